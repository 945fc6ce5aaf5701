from __future__ import annotations

import pytest

from monitor.alerts.masking import mask_personal_data

CASES = [
    ("手机 13812345678 联系", "手机 138****5678 联系"),
    ("电话 +86 138-1234-5678", "电话 +86 138****5678"),
    ("身份证 11010519491231002X", "身份证 110105********002X"),
    ("邮箱 zhang.wei@example.cn", "邮箱 z***@example.cn"),
    ("卡号 6222 0212 3456 7890 123", "卡号 6222 **** **** 0123"),
    ("座机 010-62345678", "座机 010-****5678"),
    ("订单 2024 年 3 件", "订单 2024 年 3 件"),
    ("no personal data here", "no personal data here"),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:8] for c in CASES])
def test_mask_personal_data(text: str, expected: str) -> None:
    assert mask_personal_data(text) == expected
