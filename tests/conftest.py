"""Shared test resources: one segmenter, real SQLite+tantivy engines in temporary folders."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from itertools import islice
from typing import Any, Iterator

import pytest

from indexing.engines.base import Engine, Record
from indexing.engines.embedded import EmbeddedEngine
from indexing.records.enrich import with_inferred_forms
from indexing.loading.field_map import FieldMap
from indexing.loading.loader import read_records
from indexing.records.model import parse_record
from indexing.core.search import SearchService
from indexing.text.segmenter import Segmenter
from service.settings import Settings
from service.state import open_engine

ROOT = Path(__file__).resolve().parents[1]
# The real data (cases, statutes, a resolution) is not part of the repository: it sits in a
# `shared/` folder beside the checkout, or wherever CASEDIGEST_REAL_DATA points.
REAL_DATA_VARIABLE = "CASEDIGEST_REAL_DATA"
SHARED = Path(os.environ[REAL_DATA_VARIABLE]).expanduser() if os.environ.get(REAL_DATA_VARIABLE) else ROOT.parent / "shared"
CAIL = SHARED / "data/cases/cail2018-dev.jsonl"
CAIL_MAP = ROOT / "indexing/field_maps/cail2018.toml"
SEED = SHARED / "seeds/000_48da8b9ab51a75f5.txt"
CHARGE_LIST = SHARED / "data/dict/criminal_charges.txt"
REAL_DATA_FILES = (CAIL, SEED, CHARGE_LIST)
ENGINES = ["embedded", "elasticsearch"]
TEST_ES_PORT = os.environ.get("CASEDIGEST_TEST_ES_PORT", "9251")


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


_REAL_DATA_SKIP = pytest.StashKey[str]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `real_data` need the real data folder: skip them without it, or stop a CI run.

    A fresh clone has no `shared/` beside it; its test run must still pass, and say once what
    was left out and how to bring it in. CI has the folder, so there a missing one is an error.
    """
    needing = [item for item in items if item.get_closest_marker("real_data")]
    missing = [str(path.relative_to(SHARED)) for path in REAL_DATA_FILES if not path.is_file()]
    if not needing or not missing:
        return
    lack = "which does not exist" if not SHARED.is_dir() else f"which lacks {', '.join(missing)}"
    message = (
        f"{len(needing)} tests need the real data folder {SHARED}, {lack}; "
        f"set {REAL_DATA_VARIABLE}=/path/to/shared to run them"
    )
    if running_in_ci():
        pytest.exit(f"CI=true and the real data is missing: {message}", returncode=pytest.ExitCode.USAGE_ERROR)
    config.stash[_REAL_DATA_SKIP] = message


def pytest_runtest_setup(item: pytest.Item) -> None:
    # Skipped here, before any fixture reads the data, and from this one line so that the
    # summary folds every such skip into a single line.
    reason = item.config.stash.get(_REAL_DATA_SKIP, None)
    if reason and item.get_closest_marker("real_data"):
        pytest.skip(reason)


@pytest.fixture(scope="session")
def segmenter() -> Segmenter:
    return Segmenter()


@pytest.fixture(scope="session")
def elasticsearch_url() -> Iterator[str]:
    """A real Elasticsearch node: ELASTICSEARCH_URL if set, else one the project's script starts.

    If the node cannot start, every test that needs it fails with the script's message; they
    are never skipped.
    """
    url = os.environ.get("ELASTICSEARCH_URL")
    if url:
        yield url
        return
    script = str(ROOT / "scripts/elasticsearch.sh")
    started = subprocess.run([script, "start", "--port", TEST_ES_PORT], capture_output=True, text=True, timeout=900)
    if started.returncode != 0:
        pytest.fail(f"Elasticsearch could not be started by {script}:\n{started.stderr[-4000:]}", pytrace=False)
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([script, "stop", "--port", TEST_ES_PORT], capture_output=True, timeout=120)


def engine_settings(kind: str, request: pytest.FixtureRequest, tmp_path: Path, **extra: Any) -> Settings:
    """Settings for a fresh, empty store of the given engine kind."""
    if kind == "embedded":
        return Settings(engine="embedded", data_path=tmp_path / "db.sqlite3", **extra)
    url = request.getfixturevalue("elasticsearch_url")
    return Settings(
        engine="elasticsearch", elasticsearch_url=url, elasticsearch_index=f"test-{uuid.uuid4().hex[:12]}", **extra
    )


def discard(engine: Engine) -> None:
    drop = getattr(engine, "drop", None)
    if callable(drop):
        drop()
    engine.close()


def case(id: str, title: str, summary: str, **fields: object) -> dict[str, object]:
    return {"id": id, "title": title, "summary": summary, **fields}


# A small corpus written for the tests, each record there to prove one behaviour.
SAMPLE = [
    case("t-drugs-1", "王某贩卖毒品案", "被告人王某多次向他人贩卖甲基苯丙胺（冰毒）共计50克，人民法院以贩卖毒品罪判处有期徒刑十五年。",
         country="CN", court="广东省深圳市中级人民法院", decision_date="2019-05-10", case_number="（2019）粤03刑初100号",
         crime_forms=["drugs"], charges=["走私、贩卖、运输、制造毒品"]),
    case("t-drugs-2", "李某运输毒品案", "被告人李某受人雇佣，驾车运输海洛因二千克途经云南，被公安机关查获。",
         country="CN", court="云南省高级人民法院", decision_date="2005", crime_forms=["drugs"],
         charges=["走私、贩卖、运输、制造毒品"]),
    case("t-organs-1", "赵某组织出卖人体器官案", "被告人赵某通过网络招募供体，组织多人出卖肾脏，获利巨大。法院认定其行为构成组织出卖人体器官罪。",
         country="CN", court="北京市第一中级人民法院", decision_date="2014-03-01", charges=["组织出卖人体器官"]),
    case("t-relics-1", "孙某走私文物案", "被告人孙某将盗掘所得的青铜器藏匿于集装箱内，企图走私文物出境，在海关被查获。",
         country="CN", court="上海市第三中级人民法院", decision_date="2011-08-20", charges=["走私文物"]),
    case("t-piracy-1", "索马里海域劫持船只案", "被告人等人乘快艇在亚丁湾劫持一艘商船，扣押船员勒索赎金。",
         country="SO", court="肯尼亚蒙巴萨高等法院", decision_date="2010-11-02", crime_forms=["piracy"],
         charges=["劫持船只、汽车"]),
    case("t-env-1", "某化工公司污染环境案", "被告单位违反国家规定，将含重金属的废水排入河流，严重污染环境。",
         country="CN", court="江苏省南京市中级人民法院", decision_date="2018-01-15", charges=["污染环境"]),
    case("t-corrupt-1", "钱某受贿案", "被告人钱某利用职务便利，为他人谋取利益，多次非法收受他人财物共计三百万元。",
         country="CN", court="浙江省杭州市中级人民法院", decision_date="1998-06-30", crime_forms=["corruption"],
         charges=["受贿"]),
    case("t-tw-1", "陳某販賣毒品案", "被告陳某於臺北市販賣第二級毒品甲基安非他命予他人，經法院判處有期徒刑。",
         country="TW", court="臺灣臺北地方法院", decision_date="2016", crime_forms=["drugs"], language="zh-Hant"),
    case("t-xss-1", "<script>alert('x')</script>测试案", "摘要里有<script>document.title='pwned'</script>脚本和走私文字。",
         country="CN", court="测试法院", decision_date="2020"),
    case("t-theft-1", "周某盗窃案", "被告人周某入户盗窃现金和器材若干，价值五千元。",
         country="CN", court="广东省深圳市中级人民法院", decision_date="2021-02-02", charges=["盗窃"]),
]

RESOLUTION = {
    "id": "t-res-6-1",
    "doc_type": "resolution",
    "body": "《联合国打击跨国有组织犯罪公约》缔约方会议",
    "number": "6/1",
    "adoption_date": "2012-10-19",
    "title": "确保有效实施公约及其议定书（测试摘要）",
    "crime_forms": ["cybercrime", "cultural_property", "organs", "piracy"],
    "paragraphs": [
        {"kind": "preambular", "number": 1, "text": "回顾缔约方会议以往关于实施公约的决议。"},
        {"kind": "operative", "number": 1, "text": "促请缔约国充分实施公约及其各项议定书。"},
        {"kind": "operative", "number": 2, "text": "关切新出现的犯罪形式，包括网络犯罪、贩运文化财产、贩运人体器官和海盗行为。"},
    ],
}


def cail_records(n: int | None = None) -> list[Record]:
    """The first `n` real cases (all without `n`), read as `casedigest load` reads them."""
    records: list[Record] = []
    for _, item in islice(read_records(CAIL, FieldMap.load(CAIL_MAP)), n):
        assert isinstance(item, Record), item.describe()
        records.append(item)
    return records


def sample_records() -> list:
    return [with_inferred_forms(parse_record(r)) for r in [*SAMPLE, RESOLUTION]]


@pytest.fixture(scope="module", params=ENGINES)
def sample_service(
    request: pytest.FixtureRequest, segmenter: Segmenter, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SearchService]:
    """A search core over each real engine holding the sample corpus (read-only use)."""
    settings = engine_settings(request.param, request, tmp_path_factory.mktemp("sample"))
    engine = open_engine(settings, segmenter)
    engine.upsert(sample_records())
    yield SearchService(engine, segmenter)
    discard(engine)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, segmenter: Segmenter, tmp_path: Path) -> Iterator[Engine]:
    """A fresh, empty engine of each kind."""
    eng = open_engine(engine_settings(request.param, request, tmp_path), segmenter)
    yield eng
    discard(eng)


@pytest.fixture
def embedded(segmenter: Segmenter, tmp_path: Path) -> Iterator[EmbeddedEngine]:
    """A fresh, empty embedded engine (for what only the embedded engine has)."""
    eng = EmbeddedEngine(tmp_path / "db.sqlite3", segmenter)
    yield eng
    eng.close()
