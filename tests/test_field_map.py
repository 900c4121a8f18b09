"""Field maps: checking the TOML, the transforms (lists, dates, crime forms), and both shipped maps end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import CAIL
from indexing.loading.field_map import FieldMap, FieldMapError, normalize_date, split_list
from indexing.loading.readers import Row, iter_rows
from indexing.records.model import CaseDigest, RecordError, parse_record

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests/data"
LIBRARIAN_MAP = ROOT / "indexing/field_maps/librarian_csv.toml"
CAIL_MAP = ROOT / "indexing/field_maps/cail2018.toml"

LIBRARIAN_ROW = {
    "案例编号": "lib-1", "案件名称": "林某某等贩卖、运输毒品案", "裁判摘要": "被告人林某某贩卖甲基苯丙胺。",
    "审理法院": "福建省厦门市中级人民法院", "裁判日期": "2015年4月14日", "案号": "（2015）厦刑初字第88号",
    "国家代码": "cn", "犯罪形态": "毒品犯罪；Money laundering", "罪名": "贩卖、运输毒品；洗钱",
    "法律依据": "《刑法》第二十五条、第二十六条；《刑法》第三百四十七条", "关键词": "毒资、主犯, 海洛因",
    "被告人": "林某某、郑某", "裁判结果": "判处无期徒刑。",
}


def librarian() -> FieldMap:
    return FieldMap.load(LIBRARIAN_MAP)


def record(field_map: FieldMap, row: dict[str, Any]) -> CaseDigest:
    parsed = parse_record(field_map.apply(row))
    assert isinstance(parsed, CaseDigest)
    return parsed


def rejection(field_map: FieldMap, row: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(RecordError) as caught:
        parse_record(field_map.apply(row))
    return caught.value.field, caught.value.reason


# --- dates -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "written, normalized",
    [
        ("2015年4月14日", "2015-04-14"),
        ("2015 年 4 月 14 日", "2015-04-14"),
        ("2015年04月14日", "2015-04-14"),
        ("二〇一五年四月十四日", "2015-04-14"),
        ("二○一八年十二月三十一日", "2018-12-31"),
        ("２０１５年４月１４日", "2015-04-14"),
        ("2015年4月", "2015-04"),
        ("2015年", "2015"),
        ("2015-04-14", "2015-04-14"),
        ("2015-4-14", "2015-04-14"),
        ("2015/4/14", "2015-04-14"),
        ("2015.4.14", "2015-04-14"),
        ("2015/4/14 0:00", "2015-04-14"),
        ("2015-04-14T00:00:00", "2015-04-14"),
        ("20150414", "2015-04-14"),
        ("2015-04", "2015-04"),
        ("2015/4", "2015-04"),
        ("2015", "2015"),
        (" 2015 ", "2015"),
        # the form is rewritten, the date is not judged here
        ("2015年2月30日", "2015-02-30"),
        ("2015年13月", "2015-13"),
        # not recognised: left as written
        ("2015-4/14", "2015-4/14"),
        ("去年春天", "去年春天"),
        ("15年4月", "15年4月"),
        ("14/04/2015", "14/04/2015"),
    ],
)
def test_normalize_date(written: str, normalized: str) -> None:
    assert normalize_date(written) == normalized


@pytest.mark.parametrize(
    "written, field, reason",
    [
        ("2015年2月30日", "decision_date", "'2015-02-30' is not a real date (day is out of range for month)"),
        ("2015年13月", "decision_date", "'2015-13' is not a real date (month must be in 1..12)"),
        ("1700年", "decision_date", "year 1700 is outside 1800–2100"),
        ("去年春天", "decision_date", "'去年春天' is not a date; write YYYY, YYYY-MM or YYYY-MM-DD"),
    ],
)
def test_impossible_or_unreadable_dates_are_rejected_at_validation(written: str, field: str, reason: str) -> None:
    assert rejection(librarian(), {**LIBRARIAN_ROW, "裁判日期": written}) == (field, reason)


def test_date_cells_from_a_workbook() -> None:
    assert record(librarian(), {**LIBRARIAN_ROW, "裁判日期": "2015-04-14"}).decision_date == "2015-04-14"
    assert record(librarian(), {**LIBRARIAN_ROW, "裁判日期": 20150414}).decision_date == "2015-04-14"
    assert record(librarian(), {**LIBRARIAN_ROW, "裁判日期": 2015}).decision_date == "2015"


# --- lists, crime forms, numbers, nested source ----------------------------------------------

def test_split_list() -> None:
    assert split_list("毒资、主犯, 海洛因；冰毒;摇头丸，K粉") == ["毒资", "主犯", "海洛因", "冰毒", "摇头丸", "K粉"]
    assert split_list(" 贩卖、运输毒品 ； 洗钱 ;", "；;") == ["贩卖、运输毒品", "洗钱"]


def test_librarian_row_becomes_a_record_with_codes_dates_and_lists() -> None:
    digest = record(librarian(), LIBRARIAN_ROW)
    assert digest.id == "lib-1" and digest.title == "林某某等贩卖、运输毒品案"
    assert digest.decision_date == "2015-04-14"
    assert digest.country == "CN"
    assert digest.crime_form_codes == ["drugs", "money_laundering"]
    assert [tag.source for tag in digest.crime_forms] == ["curated", "curated"]
    assert digest.charges == ["贩卖、运输毒品", "洗钱"]  # 、 inside a charge name is kept
    assert digest.legal_basis == ["《刑法》第二十五条、第二十六条", "《刑法》第三百四十七条"]
    assert digest.keywords == ["毒资", "主犯", "海洛因"]
    assert digest.defendants == ["林某某", "郑某"]
    assert digest.source is not None and digest.source.name == "馆藏案例库"
    assert digest.language == "zh-Hans"


@pytest.mark.parametrize(
    "labels, codes",
    [
        ("毒品犯罪", ["drugs"]),
        ("drugs；money_laundering", ["drugs", "money_laundering"]),
        ("Trafficking in persons、贩毒", ["trafficking_in_persons", "drugs"]),
        ("human trafficking; 洗钱犯罪", ["trafficking_in_persons", "money_laundering"]),
        ("野生动植物犯罪", ["environment.wildlife"]),
    ],
)
def test_crime_form_labels_become_codes(labels: str, codes: list[str]) -> None:
    assert librarian().apply({**LIBRARIAN_ROW, "犯罪形态": labels})["crime_forms"] == codes


def test_unknown_crime_form_label_is_kept_and_rejected_at_validation() -> None:
    mapped = librarian().apply({**LIBRARIAN_ROW, "犯罪形态": "毒品犯罪；走私军火"})
    assert mapped["crime_forms"] == ["drugs", "走私军火"]
    field, reason = rejection(librarian(), {**LIBRARIAN_ROW, "犯罪形态": "毒品犯罪；走私军火"})
    assert field == "crime_forms.1.code"
    assert reason.startswith("unknown crime form '走私军火'")


@pytest.mark.parametrize("column, field", [("案件名称", "title"), ("裁判摘要", "summary"), ("案例编号", "id")])
def test_missing_required_field(column: str, field: str) -> None:
    row = {k: v for k, v in LIBRARIAN_ROW.items() if k != column}
    assert rejection(librarian(), row) == (field, "is required")


def test_numbers_from_a_workbook_become_text() -> None:
    digest = record(librarian(), {**LIBRARIAN_ROW, "案例编号": 1001, "关键词": 2015})
    assert digest.id == "1001" and digest.keywords == ["2015"]


def test_source_name_column_overrides_the_constant_without_changing_it() -> None:
    field_map = librarian()
    named = record(field_map, {**LIBRARIAN_ROW, "来源": "馆藏判例汇编（第3辑）"})
    assert named.source is not None and named.source.name == "馆藏判例汇编（第3辑）"
    assert field_map.constants["source"] == {"name": "馆藏案例库"}
    plain = record(field_map, LIBRARIAN_ROW)
    assert plain.source is not None and plain.source.name == "馆藏案例库"


def test_order_of_transforms_and_templates() -> None:
    field_map = FieldMap.from_toml("""
        [fields]
        id = "编号"
        summary = "摘要"
        decision_date = "日期"
        charges = "罪名"
        [constants]
        title = "未命名"
        [templates]
        title = "{被告人}{罪名}案"
        [split]
        fields = ["charges"]
        [dates]
        fields = ["decision_date"]
    """)
    mapped = field_map.apply({"编号": "x", "摘要": "s", "日期": "2015年4月", "罪名": "洗钱；诈骗", "被告人": "王某"})
    assert mapped == {"id": "x", "summary": "s", "decision_date": "2015-04", "charges": ["洗钱", "诈骗"],
                      "title": "王某洗钱；诈骗案"}


# --- checking the map file -------------------------------------------------------------------

@pytest.mark.parametrize(
    "toml, message",
    [
        ("[field]\nid = 'x'", "unknown section [field]; the sections are [fields], [constants], [templates], "
                              "[each], [split], [dates]"),
        ("fields = 'x'", "[fields] must be a table"),
        ("[fields]\nsumary = '摘要'", "[fields] 'sumary' is not a record field"),
        ("[fields]\nsource.title = '来源'", "[fields] 'source.title' is not a record field"),
        ("[fields]\ncourt.name = '法院'", "[fields] 'court.name' is not a record field"),
        ("[fields]\nid = 3", "[fields] id: expected a non-empty string, got 3"),
        ("[fields]\nid = ''", "[fields] id: expected a non-empty string, got ''"),
        ("[constants]\nnation = 'CN'", "[constants] 'nation' is not a record field"),
        ("[templates]\nheading = '{a}'", "[templates] 'heading' is not a record field"),
        ("[templates]\ntitle = '{a'", "[templates] title: expected '}' before end of string"),
        ("[each]\nlaws = ['a', '{}']", "[each] 'laws' is not a record field"),
        ("[each]\ncourt = ['a', '{}']", "[each] 'court' is not a list field"),
        ("[each]\nlegal_basis = 'a'", "[each] legal_basis: expected [source field, template], got 'a'"),
        ("[split]\nfields = ['court']", "[split] 'court' is not a list field"),
        ("[split]\nfields = ['tags']", "[split] 'tags' is not a record field"),
        ("[split]\nfields = 'keywords'", "[split] fields must be a list of field names"),
        ("[split]\nfields = ['keywords']\nseparator = '；'", "[split] unknown key 'separator'; allowed: fields, separators"),
        ("[split]\nfields = ['keywords']\n[split.separators]\ncharges = '；'",
         "[split.separators] charges: not in [split] fields"),
        ("[dates]\nfields = ['court']", "[dates] 'court' is not a date field (decision_date, adoption_date)"),
        ("[dates]\nfields = ['when']", "[dates] 'when' is not a record field"),
        ("[dates]\nformat = 'YYYY'", "[dates] unknown key 'format'; allowed: fields"),
        ("[fields\nid = 'x'", "Expected ']' at the end of a table declaration"),
    ],
)
def test_bad_map_files_name_the_problem(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "map.toml"
    path.write_text(toml, "utf-8")
    with pytest.raises(FieldMapError) as caught:
        FieldMap.load(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_missing_map_file(tmp_path: Path) -> None:
    with pytest.raises(FieldMapError, match="no-such-map.toml"):
        FieldMap.load(tmp_path / "no-such-map.toml")


def test_nested_target_written_either_way() -> None:
    quoted = FieldMap.from_toml('[fields]\n"source.name" = "来源"')
    table = FieldMap.from_toml('[fields.source]\nname = "来源"\nurl = "链接"')
    assert quoted.fields == {"source.name": "来源"}
    assert table.fields == {"source.name": "来源", "source.url": "链接"}
    assert table.apply({"来源": "某库", "链接": "https://example.org/1"}) == {
        "source": {"name": "某库", "url": "https://example.org/1"}}


def test_field_map_without_new_sections_is_unchanged() -> None:
    # FieldMap built directly, as before the new sections existed
    field_map = FieldMap(fields={"id": "id", "keywords": "kw"}, split=("keywords",))
    assert field_map.apply({"id": "a", "kw": "甲、乙"}) == {"id": "a", "keywords": ["甲", "乙"]}


# --- the shipped maps end to end -------------------------------------------------------------

@pytest.mark.parametrize("sample", ["librarian_sample.csv", "librarian_sample.xlsx"])
def test_librarian_samples_end_to_end(sample: str) -> None:
    field_map = librarian()
    items = list(iter_rows(DATA / sample))
    assert all(isinstance(item, Row) for item in items)
    digests = [record(field_map, item.data) for item in items if isinstance(item, Row)]
    assert [d.id for d in digests] == [f"lib-{y}-{n:03d}" for y, n in
                                       [(2015, 1), (2016, 2), (2017, 3), (2018, 4), (2019, 5), (2014, 6), (2020, 7), (2021, 8)]]
    assert [d.decision_date for d in digests] == ["2015-04-14", "2016-03", "2017-05-08", "2018-06-20", "2019-07-05",
                                                  "2014", "2020-11-03", "2021-09-16"]
    assert digests[0].crime_form_codes == ["drugs", "money_laundering"]
    assert digests[3].crime_form_codes == ["trafficking_in_persons"]
    assert digests[5].charges == ["非法收购、运输珍贵、濒危野生动物制品罪"]
    assert digests[1].charges == ["组织、领导黑社会性质组织罪", "强迫交易罪", "行贿罪"]
    assert digests[4].keywords == ["电信网络诈骗", "冒充公检法", "境外窝点"]
    assert [d.source.name for d in digests if d.source] == [
        "馆藏判例汇编（第3辑）", "馆藏案例库", "馆藏判例汇编（第3辑）", "馆藏判例汇编（第4辑）", "馆藏案例库",
        "馆藏判例汇编（第2辑）", "馆藏判例汇编（第5辑）", "馆藏案例库"]
    assert all(d.country == "CN" and d.court and d.case_number and d.outcome for d in digests)


def test_csv_and_xlsx_samples_give_identical_records() -> None:
    field_map = librarian()
    by_format = [
        [record(field_map, item.data).model_dump() for item in iter_rows(DATA / name) if isinstance(item, Row)]
        for name in ("librarian_sample.csv", "librarian_sample.xlsx")
    ]
    assert by_format[0] == by_format[1]


def test_cail_map_still_works() -> None:
    field_map = FieldMap.load(CAIL_MAP)
    line = {"id": "cail-1", "fact": "被告人张某贩卖海洛因5克。", "charges": ["贩卖、运输、制造毒品"],
            "articles": [347], "defendants": ["张某"], "imprisonment": 36}
    assert field_map.apply(line) == {
        "id": "cail-1", "summary": "被告人张某贩卖海洛因5克。", "charges": ["贩卖、运输、制造毒品"],
        "defendants": ["张某"], "country": "CN", "language": "zh-Hans", "source": {"name": "CAIL2018"},
        "legal_basis": ["《中华人民共和国刑法》第347条"], "title": "张某贩卖、运输、制造毒品案"}
    digest = record(field_map, line)
    assert digest.source is not None and digest.source.name == "CAIL2018"


@pytest.mark.real_data
def test_cail_map_on_the_real_file() -> None:
    field_map = FieldMap.load(CAIL_MAP)
    lines = CAIL.read_text("utf-8").splitlines()[:200]
    digests = [record(field_map, json.loads(line)) for line in lines]
    assert len(digests) == 200
    assert all(d.title.endswith("案") and d.charges and d.country == "CN" for d in digests)
