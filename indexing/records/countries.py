"""ISO 3166-1 country codes and their Chinese display names (from pycountry's data)."""

from __future__ import annotations

import gettext
from functools import lru_cache

import pycountry

# Names as a Chinese-speaking practitioner expects them where the ISO Chinese names are
# long-winded or politically worded differently in PRC usage.
_NAME_OVERRIDES = {
    "TW": "中国台湾",
    "HK": "中国香港",
    "MO": "中国澳门",
    "KR": "韩国",
    "KP": "朝鲜",
    "RU": "俄罗斯",
    "GB": "英国",
    "US": "美国",
    "VN": "越南",
    "LA": "老挝",
}


@lru_cache(maxsize=1)
def _translator() -> gettext.NullTranslations:
    try:
        return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["zh_CN"])
    except OSError:
        return gettext.NullTranslations()


def normalize(code: str) -> str:
    """Return the upper-case alpha-2 code, accepting alpha-3 too; raise ValueError if unknown."""
    text = code.strip().upper()
    country = pycountry.countries.get(alpha_2=text) if len(text) == 2 else None
    if country is None and len(text) == 3:
        country = pycountry.countries.get(alpha_3=text)
    if country is None:
        raise ValueError(f"{code!r} is not an ISO 3166-1 country code (e.g. CN, PH, IT)")
    return str(country.alpha_2)


@lru_cache(maxsize=512)
def chinese_name(code: str) -> str:
    """The Chinese display name of an alpha-2 code (the code itself if unknown)."""
    if code in _NAME_OVERRIDES:
        return _NAME_OVERRIDES[code]
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return _translator().gettext(country.name)
