"""The 类案检索报告 as a .docx file (python-docx), the same content as the print page."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from docx import Document

if TYPE_CHECKING:
    from service.similar_report import Report


def report_document(report: "Report", uses: dict[str, str]) -> bytes:
    """The report's bytes: the art. 8 items in order, one section per selected case."""
    doc = Document()
    doc.add_heading("类案检索报告", level=0)
    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for label, value in (("检索主体", report.searcher), ("检索时间", report.when), ("检索平台", report.platform),
                         ("检索方法", report.method)):
        row = table.add_row().cells
        row[0].text, row[1].text = label, value
    doc.add_heading("一、待决案件事实", level=1)
    for paragraph in report.facts.splitlines():
        if paragraph.strip():
            doc.add_paragraph(paragraph.strip())
    doc.add_heading("二、待决案件争议焦点", level=1)
    doc.add_paragraph(report.disputed)
    doc.add_heading(f"三、检索结果（类案 {len(report.cases)} 件）", level=1)
    for number, case in enumerate(report.cases, start=1):
        record = case.record
        doc.add_heading(f"{number}. {record.title}", level=2)
        for label, value in (
            ("案号", record.case_number or "（未载明）"),
            ("审理法院", record.court or "（未载明）"),
            ("裁判日期", record.decision_date or "（未载明）"),
            ("罪名", "、".join(record.charges) or "（未载明）"),
            ("裁判要旨或结果", record.outcome or "（摘要未载明裁判结果）"),
            ("相似之处", case.shared or "—"),
            ("参照或参考", uses.get(case.use, case.use)),
            ("理由", case.reason or "（未填写）"),
        ):
            paragraph = doc.add_paragraph()
            paragraph.add_run(f"{label}：").bold = True
            paragraph.add_run(value)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
