"""The 类案检索报告 (similar-case search report) of art. 8 of 法发〔2020〕24号, as content.

Art. 8 of 最高人民法院《关于统一法律适用加强类案检索的指导意见（试行）》 asks who searched, when,
on which platform, by which method, the results, each similar case's holding, whether it was
followed (参照) or only consulted (参考) and why, and the disputed issues of the pending case.
The page (print HTML, .docx) and the command line compose it here and only lay it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Sequence

from indexing.core.search import SearchService
from indexing.errors import BadRequest
from indexing.records.model import CaseDigest
from indexing.similar.models import SimilarRequest

# What each selected case did for the pending case: 参照 (followed) or 参考 (consulted).
USES = {"followed": "参照", "consulted": "参考"}
# The report re-runs the search this deep to say why each selected case is similar.
WHY_DEPTH = 100


@dataclass(frozen=True)
class ReportCase:
    record: CaseDigest
    use: str  # "followed" or "consulted"
    reason: str
    shared: str


@dataclass(frozen=True)
class Report:
    searcher: str
    when: str
    platform: str
    method: str
    facts: str
    disputed: str
    cases: list[ReportCase]


def compose_report(
    service: SearchService,
    search: SimilarRequest,
    picked: Sequence[str],
    choice: Callable[[str], tuple[str, str]],
    *,
    searcher: str,
    disputed: str,
    platform: str,
    filters_used: str,
) -> Report:
    """The report for the facts of `search` and the `picked` case ids, in the order picked.

    `choice(id)` gives, per case, its use ("followed" / "consulted") and the reason entered.
    Ids that are not cases (or no longer exist) are left out; none at all is a 400.
    """
    if not picked:
        raise BadRequest("select at least one case for the report", {"pick": []})
    result = service.similar(search.model_copy(update={"size": WHY_DEPTH, "cursor": None}))
    why = {h.id: h.why for h in result.hits}
    cases = []
    for record_id in dict.fromkeys(picked):
        record = service.get(record_id)
        if not isinstance(record, CaseDigest):
            continue
        reasons = why.get(record_id)
        shared = "、".join(t.word for t in reasons.shared_terms[:8]) if reasons else ""
        use, reason = choice(record_id)
        cases.append(ReportCase(record, use if use in USES else "consulted", reason.strip(), shared))
    terms = "、".join(t.word for t in result.key_terms[:15])
    return Report(
        searcher=searcher.strip() or "（未填写）",
        when=datetime.now(timezone.utc).astimezone().strftime("%Y年%m月%d日 %H:%M"),
        platform=platform,
        method=f"类案检索（以案件事实检索相似案例）；检索关键词：{terms}；筛选条件：{filters_used or '无'}",
        facts=search.text,
        disputed=disputed.strip() or "（未填写）",
        cases=cases,
    )
