"""Write the librarian samples: `librarian_sample.csv` (GB18030) and `librarian_sample.xlsx`.

Both hold the same eight fictional case digests, in the layout of
`indexing/field_maps/librarian_csv.toml`. In the workbook, full dates are real date cells
(shown as 2015年4月14日), as a spreadsheet would keep them; partial dates stay text.

    .venv/bin/python tests/data/make_samples.py
"""

from __future__ import annotations

import csv
import re
from datetime import date, datetime
from pathlib import Path

import openpyxl

HERE = Path(__file__).resolve().parent
CSV_PATH = HERE / "librarian_sample.csv"
XLSX_PATH = HERE / "librarian_sample.xlsx"

HEADERS = ["案例编号", "案件名称", "裁判摘要", "审理法院", "裁判日期", "案号", "国家代码", "犯罪形态",
           "罪名", "法律依据", "关键词", "被告人", "裁判结果", "来源"]

# Fictional cases, written for these tests; names and numbers are invented.
ROWS: list[list[str]] = [
    ["lib-2015-001", "林某某等贩卖、运输毒品案",
     "2014年3月至9月，被告人林某某从境外购入甲基苯丙胺，雇用郑某驾车经高速公路运往内地城市分销，"
     "并通过多个他人名下账户收取毒资。法院认为二被告人贩卖、运输毒品数量大，林某某系主犯。",
     "福建省厦门市中级人民法院", "2015年4月14日", "（2015）厦刑初字第88号", "CN", "毒品犯罪；洗钱",
     "贩卖、运输毒品；洗钱", "《中华人民共和国刑法》第三百四十七条；《中华人民共和国刑法》第一百九十一条",
     "甲基苯丙胺、毒资、主犯", "林某某、郑某", "被告人林某某犯贩卖、运输毒品罪，判处无期徒刑；被告人郑某判处有期徒刑十年。",
     "馆藏判例汇编（第3辑）"],
    ["lib-2016-002", "王某组织、领导黑社会性质组织案",
     "被告人王某自2009年起纠集刑满释放人员，以暴力、威胁手段垄断当地砂石运输，多次实施寻衅滋事、"
     "强迫交易等违法犯罪活动，并拉拢个别公职人员为其提供庇护。",
     "湖南省长沙市中级人民法院", "2016年3月", "（2016）湘01刑初45号", "CN", "参加有组织犯罪集团；腐败",
     "组织、领导黑社会性质组织罪；强迫交易罪；行贿罪", "《中华人民共和国刑法》第二百九十四条",
     "黑社会性质组织、保护伞、砂石", "王某、李某甲、李某乙", "被告人王某犯组织、领导黑社会性质组织罪等，数罪并罚，决定执行有期徒刑二十年。",
     ""],
    ["lib-2017-003", "陈某某走私文物案",
     "被告人陈某某将收购的十余件三级文物藏匿于茶叶包装内，经海关申报出境，被海关缉私部门查获。",
     "广东省深圳市中级人民法院", "2017-05-08", "（2017）粤03刑初212号", "CN", "文物贩运",
     "走私文物罪", "《中华人民共和国刑法》第一百五十一条第二款", "文物；海关；走私", "陈某某",
     "被告人陈某某犯走私文物罪，判处有期徒刑七年，并处罚金人民币二十万元。", "馆藏判例汇编（第3辑）"],
    ["lib-2018-004", "赵某等拐卖妇女案",
     "被告人赵某伙同他人以介绍工作为名，将多名外籍妇女骗至境内，出卖给他人为妻，从中获利。",
     "云南省高级人民法院", "二〇一八年六月二十日", "（2018）云刑终301号", "CN", "Trafficking in persons",
     "拐卖妇女罪", "《中华人民共和国刑法》第二百四十条", "拐卖妇女、跨境、婚姻介绍", "赵某、黄某某",
     "驳回上诉，维持原判。", "馆藏判例汇编（第4辑）"],
    ["lib-2019-005", "周某某电信网络诈骗案",
     "被告人周某某在境外参加诈骗集团，冒充公检法人员拨打电话，以资金核查为由骗取被害人钱款，"
     "涉案金额共计三百余万元。",
     "浙江省温州市中级人民法院", "2019/7/5", "（2019）浙03刑初77号", "CN", "网络犯罪；参加有组织犯罪集团",
     "诈骗罪", "《中华人民共和国刑法》第二百六十六条", "电信网络诈骗，冒充公检法，境外窝点", "周某某",
     "被告人周某某犯诈骗罪，判处有期徒刑十二年，并处罚金人民币五十万元。", ""],
    ["lib-2014-006", "吴某非法收购、运输珍贵、濒危野生动物制品案",
     "被告人吴某从边境地区收购象牙制品四十余件，雇车运往外省销售，途中被森林公安查获。",
     "广西壮族自治区南宁市中级人民法院", "2014年", "（2014）南市刑一初字第19号", "CN", "野生动植物犯罪",
     "非法收购、运输珍贵、濒危野生动物制品罪", "《中华人民共和国刑法》第三百四十一条第一款",
     "象牙、野生动物", "吴某", "被告人吴某判处有期徒刑五年，并处罚金。", "馆藏判例汇编（第2辑）"],
    ["lib-2020-007", "何某某洗钱案",
     "被告人何某某明知资金系他人贩毒所得，仍提供本人及亲属银行账户接收并多次取现转交，"
     "协助转移资金八十余万元。",
     "上海市第一中级人民法院", "2020.11.3", "（2020）沪01刑初15号", "CN", "Money laundering",
     "洗钱罪", "《中华人民共和国刑法》第一百九十一条", "洗钱、上游犯罪、毒品", "何某某",
     "被告人何某某犯洗钱罪，判处有期徒刑二年，并处罚金人民币五万元。", "馆藏判例汇编（第5辑）"],
    ["lib-2021-008", "刘某等组织他人偷越国境案",
     "被告人刘某等人组织多人从边境山路偷越国境，收取每人数千元费用，并安排车辆接送。",
     "广西壮族自治区高级人民法院", "20210916", "（2021）桂刑终88号", "CN", "偷运移民",
     "组织他人偷越国境罪", "《中华人民共和国刑法》第三百一十八条", "偷越国境、边境", "刘某、韦某",
     "被告人刘某犯组织他人偷越国境罪，判处有期徒刑八年。", ""],
]

_FULL_DATE = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$")


def write_csv(path: Path = CSV_PATH) -> None:
    with path.open("w", encoding="gb18030", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADERS)
        writer.writerows(ROWS)


def write_xlsx(path: Path = XLSX_PATH) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "案例"
    sheet.append(HEADERS)
    date_column = HEADERS.index("裁判日期")
    for row in ROWS:
        cells: list[object] = [value or None for value in row]
        match = _FULL_DATE.match(row[date_column])
        if match:
            cells[date_column] = date(*(int(g) for g in match.groups()))
        sheet.append(cells)
        if match:
            sheet.cell(sheet.max_row, date_column + 1).number_format = "yyyy年m月d日"
    # fixed document times, so rewriting the file changes as little as possible
    workbook.properties.created = workbook.properties.modified = datetime(2024, 1, 1)
    workbook.save(path)


if __name__ == "__main__":
    write_csv()
    write_xlsx()
    print(f"wrote {CSV_PATH.name} and {XLSX_PATH.name}")
