"""A user-trained sentiment model named in the configuration is the one the daemon scores with."""

from __future__ import annotations

import csv
from pathlib import Path

from monitor.cli import main
from monitor.config import load_config
from monitor.runtime import Runtime
from tests.helpers.builders import message, write_config, write_rules

PRAISE = ["服务很好，非常满意", "质量很好，很喜欢", "物流很快，好评", "客服耐心，很满意", "非常好用，推荐"]
BLAME = ["太差了，很失望", "质量很差，退货", "物流太慢，差评", "客服态度恶劣", "根本不能用，垃圾"]


def test_configured_user_model_replaces_the_shipped_one(tmp_path: Path) -> None:
    data = tmp_path / "labelled.csv"
    with data.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label", "text"])
        for _ in range(
            20
        ):  # labels deliberately inverted: only a model trained on this scores praise negative
            writer.writerows([[0, t] for t in PRAISE] + [[1, t] for t in BLAME])
    model = tmp_path / "inverted.json"
    assert main(["sentiment", "train", "--data", str(data), "--out", str(model), "--holdout", "0"]) == 0
    base = {
        "state_dir": str(tmp_path),
        "logging": {"level": "warning"},
        "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
    }
    default = Runtime(load_config(write_config(tmp_path / "default.yaml", base)))
    user_rules = {**base["rules"], "sentiment": {"method": "model", "model": str(model)}}  # type: ignore[dict-item]
    user = Runtime(load_config(write_config(tmp_path / "user.yaml", {**base, "rules": user_rules})))
    praise = message("p", text="服务很好，非常满意，很喜欢")
    shipped, trained = default.rules.current()(praise).sentiment, user.rules.current()(praise).sentiment
    assert shipped is not None and trained is not None
    assert shipped.label == "positive"
    assert trained.label == "negative"
    # retraining the file (here: with correct labels) is picked up like a rule edit
    with data.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label", "text"])
        for _ in range(20):
            writer.writerows([[1, t] for t in PRAISE] + [[0, t] for t in BLAME])
    assert main(["sentiment", "train", "--data", str(data), "--out", str(model), "--holdout", "0"]) == 0
    assert user.rules.reload_if_changed() is None
    retrained = user.rules.current()(praise).sentiment
    assert retrained is not None and retrained.label == "positive"
