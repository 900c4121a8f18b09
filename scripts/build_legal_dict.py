"""Build `indexing/data/legal_dict.txt` (the jieba user dictionary) and `charges.txt`.

Sources (read from ../shared at build time; the derived list ships with attribution in
`indexing/data/legal_dict.ATTRIBUTION.md`):
- PRC charge names (criminal_charges.txt, MIT, © 2021 myx666): each charge with and without
  the trailing 罪, and each part of a composite name written with 、;
- THUOCL legal vocabulary (THUOCL_law.txt, MIT, © 2018 THUNLP): terms of 2–7 Han characters;
- the crime-form labels and aliases of the project's own taxonomy;
- a short list of the project's own terms (slang and abbreviations practitioners type).

Each word that jieba's own dictionary lacks gets the frequency jieba would suggest to keep it
whole, so the file loads without re-tuning at start-up.

    python scripts/build_legal_dict.py [--shared ../shared]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import jieba

from indexing.records.crime_forms import TAXONOMY

ROOT = Path(__file__).resolve().parents[1]
HAN = re.compile(r"^[\u4e00-\u9fff]+$")

# Terms of the project's own that neither source has.
PROJECT_TERMS = """
醉驾 醉酒驾驶 冰毒 麻古 K粉 氯胺酮 海洛因 甲基苯丙胺 大麻 可卡因 芬太尼 摇头丸 制毒物品 易制毒化学品
电诈 电信网络诈骗 网络诈骗 跑分 洗钱 地下钱庄 虚拟货币 黑社会 黑社会性质组织 恶势力 恶势力犯罪集团
涉黑 涉恶 保护伞 套路贷 人体器官 器官移植 活体器官 走私文物 古文化遗址 古墓葬 盗掘 倒卖文物
劫持船只 海盗 海上武装抢劫 偷越国境 偷越国边境 蛇头 假药 劣药 假疫苗 非法捕捞 电鱼 禁渔期 禁渔区
盗伐林木 滥伐林木 穿山甲 象牙 犀牛角 珍贵濒危野生动物 污染环境 危险废物 拐卖妇女 拐卖儿童 强迫劳动
枪支弹药 仿真枪 假币 伪造货币 假冒注册商标 帮信罪 帮助信息网络犯罪活动 非法侵入计算机信息系统
""".split()


def candidate_words(shared: Path) -> list[str]:
    words: list[str] = []
    for line in (shared / "data/dict/criminal_charges.txt").read_text("utf-8").splitlines():
        name = line.strip()
        if not name:
            continue
        words.append(name)
        bare = name.removesuffix("罪")
        words.append(bare)
        words.extend(part for part in re.split(r"[、，]", bare) if len(part) >= 2)
    for line in (shared / "data/dict/THUOCL_law.txt").read_text("utf-8").splitlines():
        term = line.split("\t")[0].strip()
        if 2 <= len(term) <= 7:
            words.append(term)
    for form in TAXONOMY.forms:
        words.extend([form.zh, *form.aliases])
    words.extend(PROJECT_TERMS)
    seen: set[str] = set()
    return [w for w in words if HAN.match(w.lower().replace("k", "")) and not (w in seen or seen.add(w))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    lines = []
    for word in candidate_words(args.shared):
        word = word.lower()  # queries are folded to lower case before segmentation
        known = tokenizer.FREQ.get(word, 0)
        freq = max(known, tokenizer.suggest_freq(word, tune=False), 50)
        lines.append(f"{word} {freq}")
    out = ROOT / "indexing/data/legal_dict.txt"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} words to {out.relative_to(ROOT)}")
    charges = sorted({line.strip().removesuffix("罪") for line in
                      (args.shared / "data/dict/criminal_charges.txt").read_text("utf-8").splitlines() if line.strip()})
    charges_out = ROOT / "indexing/data/charges.txt"
    charges_out.write_text("\n".join(charges) + "\n", encoding="utf-8")
    print(f"wrote {len(charges)} charge names to {charges_out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
