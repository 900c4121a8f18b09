"""Crime-form inference: charge rules, text cues and their precision on real cases."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from conftest import CAIL
from indexing.records.crime_form_inference import (
    RULES,
    forms_for_charge,
    infer_crime_forms,
    infer_from_charges,
    infer_from_text,
    normalize_charge,
)
from indexing.records.crime_forms import TAXONOMY

REPO_ROOT = Path(__file__).resolve().parents[1]

# Measured on the held-out third with rules 2026.1: precision 0.951, recall 0.805. The floors
# sit a little below so that a regression in the cues fails here.
HELD_OUT_PRECISION_FLOOR = 0.92
HELD_OUT_RECALL_FLOOR = 0.77


@pytest.mark.parametrize(
    ("charge", "expected"),
    [
        ("走私、贩卖、运输、制造毒品", ["drugs"]),
        ("贩卖毒品罪", ["drugs"]),
        ("污染环境", ["environment", "environment.pollution"]),
        ("生产、销售假药", ["falsified_medicines"]),
        ("生产、销售、提供假药罪", ["falsified_medicines"]),
        ("组织出卖人体器官", ["organs"]),
        ("盗掘古文化遗址、古墓葬", ["cultural_property"]),
        ("走私文物罪", ["cultural_property"]),
        ("劫持船只罪", ["piracy"]),
        ("非法捕捞水产品", ["environment", "environment.fisheries"]),
        ("盗伐林木罪", ["environment", "environment.forest"]),
        ("危害珍贵、濒危野生动物罪", ["environment", "environment.wildlife"]),
        ("非法猎捕、杀害珍贵、濒危野生动物", ["environment", "environment.wildlife"]),
        ("组织、领导、参加黑社会性质组织罪", ["organized_crime_group"]),
        ("掩饰、隐瞒犯罪所得、犯罪所得收益", ["money_laundering"]),
        ("受贿", ["corruption"]),
        ("妨害作证罪", ["obstruction_of_justice"]),
        ("组织他人偷越国（边）境罪", ["migrant_smuggling"]),
        ("组织他人偷越国(边)境", ["migrant_smuggling"]),
        ("拐卖妇女、儿童罪", ["trafficking_in_persons"]),
        ("非法持有、私藏枪支、弹药", ["firearms"]),
        ("假冒注册商标罪", ["counterfeiting"]),
        ("帮助信息网络犯罪活动罪", ["cybercrime"]),
        ("窝藏、转移、隐瞒毒品、毒赃", ["drugs", "money_laundering"]),
    ],
)
def test_charge_maps_to_forms(charge: str, expected: list[str]) -> None:
    assert forms_for_charge(charge) == expected


@pytest.mark.parametrize(
    "charge", ["盗窃", "故意伤害罪", "危险驾驶", "诈骗", "玩忽职守", "劫持船只、汽车", ""]
)
def test_ordinary_charges_map_to_no_form(charge: str) -> None:
    assert forms_for_charge(charge) == []


def test_suffix_spaces_and_width_are_ignored() -> None:
    assert normalize_charge(" 污染环境 罪") == "污染环境"
    assert forms_for_charge("污染环境罪") == forms_for_charge("污染环境")
    assert normalize_charge("偷越国（边）境罪") == "偷越国(边)境"


def test_multiple_charges_give_the_union_in_taxonomy_order() -> None:
    forms = infer_from_charges(["盗窃", "受贿罪", "走私、贩卖、运输、制造毒品", "污染环境"])
    assert forms == ["environment", "environment.pollution", "drugs", "corruption"]
    assert forms == [code for code in TAXONOMY.codes if code in forms]


def test_every_rule_code_exists_in_the_taxonomy() -> None:
    assert RULES.codes
    assert all(TAXONOMY.get(code) is not None for code in RULES.codes)


def test_text_finds_drug_selling() -> None:
    fact = "2016年5月，被告人张某在本市某小区门口以人民币300元的价格向李某贩卖甲基苯丙胺1包，净重0.5克。"
    assert infer_from_text(fact) == ["drugs"]


def test_text_ignores_beating_and_ordinary_assault() -> None:
    fact = "被告人王某因琐事与被害人赵某发生争执，将赵某毒打一顿，致其左臂骨折，经鉴定为轻伤一级。"
    assert infer_from_text(fact) == []


def test_text_returns_sub_form_with_parent() -> None:
    fact = "被告人在禁渔期内使用电鱼的禁用方法非法捕捞水产品30余公斤。"
    assert infer_from_text(fact) == ["environment", "environment.fisheries"]


def test_charges_win_over_text() -> None:
    selling = "被告人向李某贩卖海洛因2克。"
    assert infer_crime_forms(["盗窃"], selling) == []
    assert infer_crime_forms([], selling) == ["drugs"]
    assert infer_crime_forms(["  "], selling) == ["drugs"]


def _load_bench() -> ModuleType:
    path = REPO_ROOT / "bench/crime_form_inference.py"
    spec = importlib.util.spec_from_file_location("bench_crime_form_inference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the module is being executed.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.real_data
@pytest.mark.slow
def test_text_inference_on_held_out_real_cases() -> None:
    bench = _load_bench()
    parts = bench.evaluate(bench.load_cases(CAIL))
    held_out = parts[bench.HELD_OUT].micro
    assert held_out.support > 500
    assert held_out.precision >= HELD_OUT_PRECISION_FLOOR, held_out
    assert held_out.recall >= HELD_OUT_RECALL_FLOOR, held_out


def test_every_form_cites_its_untoc_or_sherloc_definition() -> None:
    instruments = ("UNTOC", "Protocol", "Convention", "resolution", "UNCLOS", "TRIPS")
    for form in TAXONOMY.forms:
        assert any(word in form.citation for word in instruments), form.code


def test_harbouring_is_not_obstruction_of_justice_under_untoc_article_23() -> None:
    # Decided in crime_forms.toml: art. 23 needs force, threats or an undue advantage aimed
    # at testimony, evidence or justice officials; hiding an offender is none of these.
    for charge in ("窝藏、包庇", "窝藏", "包庇罪"):
        assert forms_for_charge(charge) == [], charge
    assert forms_for_charge("妨害作证") == ["obstruction_of_justice"]
    # harbouring that has a form of its own keeps that form only
    assert forms_for_charge("包庇毒品犯罪分子") == ["drugs"]
    assert infer_from_text("明知是犯罪的人而为其提供住处和钱财，帮助其逃匿。") == []
    # 包庇 by a false account to the police is the harbourer's own lie, not art. 23
    assert infer_from_text("被告人应肇事者的要求代为顶替，对交警作假证明，谎称自己是驾驶人。") == []


@pytest.mark.parametrize(
    ("charge", "forms"),
    [
        # art. 23(a): testimony and evidence
        ("妨害作证", ["obstruction_of_justice"]),
        ("帮助毁灭、伪造证据", ["obstruction_of_justice"]),
        ("打击报复证人", ["obstruction_of_justice"]),
        # art. 23(b): force against justice officials
        ("扰乱法庭秩序", ["obstruction_of_justice"]),
        ("劫夺被押解人员", ["obstruction_of_justice"]),
        ("暴动越狱", ["obstruction_of_justice"]),
        # the rest of the PRC chapter: no force or advantage against a witness, evidence or official
        ("伪证", []),
        ("虚假诉讼", []),
        ("脱逃", []),
        ("组织越狱", []),
        ("破坏监管秩序", []),
        ("拒不执行判决、裁定", []),
        ("拒不执行判决", []),
        ("非法处置查封、扣押、冻结的财产", []),
        ("帮助犯罪分子逃避处罚", ["corruption"]),
        ("徇私枉法", ["corruption"]),
    ],
)
def test_obstruction_of_justice_is_untoc_article_23_conduct(charge: str, forms: list[str]) -> None:
    assert forms_for_charge(charge) == forms


@pytest.mark.parametrize(
    ("fact", "is_obstruction"),
    [
        ("被告人指使证人李某改变证言，称当晚未见到打斗。", True),
        ("被告人以暴力威胁阻止证人出庭作证。", True),
        ("被告人帮助其弟销毁作案时所穿衣物等证据。", True),
        ("被告人在法庭上殴打审判人员。", True),
        ("被告人在服刑期间趁外出劳动之机逃跑。", False),
        ("被告人有能力执行而拒不执行法院判决。", False),
        ("被告人在庭审中作虚假陈述。", False),
    ],
)
def test_obstruction_cues_follow_article_23(fact: str, is_obstruction: bool) -> None:
    assert ("obstruction_of_justice" in infer_from_text(fact)) is is_obstruction


@pytest.mark.parametrize(
    ("charges", "fact", "expected"),
    [
        (["诈骗"], "被告人冒充银行客服拨打电话，谎称被害人信用卡异常，骗取其转账五万元。", ["cybercrime"]),
        (["诈骗"], "被告人通过微信结识被害人，虚构投资项目骗取其人民币十万元。", ["cybercrime"]),
        (["诈骗"], "被告人以帮助安排工作为由，当面骗取被害人现金两万元。", []),
        (["劫持船只、汽车"], "被告人持刀登上一艘渔船，劫持渔船驶离港口。", ["piracy"]),
        (["劫持船只、汽车"], "被告人持刀劫持出租车，强令司机驶往外地。", []),
        (["走私普通货物、物品"], "被告人雇佣三无船从境外运载冻品，在海上过驳后偷运入境。", ["piracy"]),
        (["走私普通货物、物品"], "被告人通过快递从境外购入化妆品，未申报入境。", []),
        (["盗窃"], "被告人盗窃某寺内清代石雕佛像一尊，经鉴定为三级文物。", ["cultural_property"]),
        (["抢劫"], "被告人持刀抢劫被害人手机一部。", []),
        # impersonating the police in person is 招摇撞骗-like conduct, not telecom fraud
        (["诈骗"], "被告人身穿警服冒充民警，在集市上以罚款为由当面骗取摊主现金。", []),
        (["诈骗"], "被告人通过电话冒充公安局民警，称被害人涉嫌洗钱，骗取其转账。", ["cybercrime"]),
        # a channel named in passing is not the means of the deception
        (["诈骗"], "被告人以查找被害人QQ聊天记录为由，当面骗取其笔记本电脑一台。", []),
        # a copied brand under 伪劣产品 is trademark counterfeiting (TRIPS art. 61); quality fraud is not
        (["生产、销售伪劣产品"], "被告人向他人出售假冒中华等品牌卷烟，价值五十万元。", ["counterfeiting"]),
        (["生产、销售伪劣产品"], "被告人在化肥中掺杂掺假，以次充好销售给农户。", []),
    ],
)
def test_charges_read_in_the_context_of_the_facts(charges: list[str], fact: str, expected: list[str]) -> None:
    assert infer_crime_forms(charges, fact) == expected


# Measured on the held-out third with the charge model trained on the tuning part (rules
# 2026.3, class-weighted model): micro P 0.947, R 0.940, F1 0.943. The floor sits a little below.
HELD_OUT_MODEL_F1_FLOOR = 0.91


@pytest.mark.real_data
@pytest.mark.slow
def test_text_and_charge_model_inference_on_held_out_real_cases() -> None:
    bench = _load_bench()
    cases = bench.load_cases(CAIL)
    model = bench.train_model(cases)
    assert model is not None
    held_out = bench.evaluate(cases, model)[bench.HELD_OUT].micro
    assert held_out.support > 500
    assert held_out.f1 >= HELD_OUT_MODEL_F1_FLOOR, held_out
