"""The 类案检索 page's pasted facts: kept in a file every worker process shares."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import sample_records
from service.app import create_app
from service.facts_store import FactsStore
from service.settings import Settings

FACTS = "经查，被告人在出租屋附近多次向吸毒人员贩卖甲基苯丙胺，共计二十余克，后被民警抓获。"


def test_facts_put_by_one_worker_are_read_by_another(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    (fixtures / "sample.jsonl").write_text(
        "\n".join(json.dumps(r.model_dump(mode="json"), ensure_ascii=False) for r in sample_records()), "utf-8"
    )
    settings = Settings(engine="embedded", data_path=tmp_path / "store.sqlite3", fixtures_path=fixtures)
    # two apps on one store stand for two `serve --workers` processes behind one port
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        posted = first.post("/similar", data={"text": FACTS}, follow_redirects=False)
        assert posted.status_code == 303
        page = second.get(posted.headers["location"])
        assert page.status_code == 200 and FACTS in page.text and "已过期" not in page.text
        key = posted.headers["location"].split("t=")[1].split("&")[0]
        picks = [r.id for r in sample_records()][:1]
        form = second.post("/similar/report", data={"t": key, "pick": picks})
        assert form.status_code == 200
    assert (tmp_path / "pasted-facts.sqlite3").is_file()


def test_facts_expire_and_the_oldest_make_room(tmp_path: Path) -> None:
    store = FactsStore(tmp_path / "facts.sqlite3", capacity=2, seconds=0.3)
    keys = [store.put(f"案情{i}") for i in range(3)]
    assert store.get(keys[0]) is None  # over capacity: the oldest went first
    assert [store.get(k) for k in keys[1:]] == ["案情1", "案情2"]
    assert FactsStore(tmp_path / "facts.sqlite3").get(keys[2]) == "案情2"  # another process's view
    time.sleep(0.4)
    assert store.get(keys[2]) is None


@pytest.mark.parametrize("shared", [True, False])
def test_facts_stay_usable_when_the_file_cannot_be_written(tmp_path: Path, shared: bool) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    store = FactsStore(blocker / "facts.sqlite3" if shared else None)
    key = store.put(FACTS)
    assert store.get(key) == FACTS
    assert store.get("0" * 20) is None
