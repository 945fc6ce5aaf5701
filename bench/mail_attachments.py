"""Peak memory of parsing one large mail: attachment sizes from the encoded part vs decoding them.

Usage: ``.venv/bin/python bench/mail_attachments.py [--mb 21] [--attachments 3]``

Each row runs in its own child process and reports that child's peak RSS (VmHWM of its own
address space, as ``tests/test_malformed_input.py`` measures the daemon):

* ``import only`` - the parser imported and the raw mail read, nothing parsed (the floor);
* ``parse_mail (now)`` - :func:`connectors.mail.parse.parse_mail`, which keeps long base64 runs
  away from the MIME parser (:mod:`connectors.mail.elide`) and measures attachments from their
  encoded length;
* ``full parse + decode (before)`` - the whole mail through the stdlib parser and
  ``get_payload(decode=True)`` of every attachment, which is what ``parse_mail`` did until this
  change; it also checks that both give every attachment the same size.

``growth`` is the row's peak minus the floor; ``ratio`` is the row's growth divided by the
``before`` row's growth in the same run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from email.message import EmailMessage
from pathlib import Path

CHILD = """
import sys
from pathlib import Path
from connectors.mail.parse import _PARSER, parse_mail
mode, path = sys.argv[1], sys.argv[2]
raw = Path(path).read_bytes()
if mode == "decode":
    msg = _PARSER.parsebytes(raw)
    sizes = [len(p.get_payload(decode=True) or b"") for p in msg.walk()
             if not p.is_multipart() and p.get_filename()]
    del msg
if mode != "floor":
    parsed = parse_mail(raw, source="bench")
    assert parsed.attachments, "the mail has attachments"
if mode == "decode":
    assert sizes == [a.size for a in parsed.attachments], (sizes, [a.size for a in parsed.attachments])
with open("/proc/self/status") as status:
    print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""

ROWS = (("import only", "floor"), ("parse_mail (now)", "now"), ("full parse + decode (before)", "decode"))


def build_mail(total_mb: float, attachments: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "客户 <customer@example.com>"
    msg["To"] = "support@example.com"
    msg["Subject"] = "发票和照片 invoices and photos"
    msg.set_content("您好，附件是发票和照片，请查收。")
    each = int(total_mb * 1024 * 1024 * 3 / 4 / attachments)  # base64 grows by 4/3
    for index in range(attachments):
        msg.add_attachment(os.urandom(each), maintype="application", subtype="octet-stream",
                           filename=f"scan-{index}.pdf")
    return msg.as_bytes()


def peak_kb(mode: str, path: Path) -> int:
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(path)], cwd=repo, capture_output=True,
                         text=True, check=True)
    return int(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=21.0, help="size of the mail in MB")
    parser.add_argument("--attachments", type=int, default=3)
    args = parser.parse_args()
    raw = build_mail(args.mb, args.attachments)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.eml"
        path.write_bytes(raw)
        peaks = {mode: peak_kb(mode, path) / 1024 for _, mode in ROWS}
    floor = peaks["floor"]
    before = peaks["decode"] - floor
    print(f"mail: {len(raw) / 1024 / 1024:.1f} MB, {args.attachments} base64 attachments")
    print(f"{'row':<36} {'peak RSS MB':>12} {'growth MB':>10} {'ratio':>7}")
    for label, mode in ROWS:
        growth = peaks[mode] - floor
        ratio = f"{growth / before:.2f}" if mode != "floor" and before > 0 else "-"
        print(f"{label:<36} {peaks[mode]:>12.1f} {growth:>10.1f} {ratio:>7}")


if __name__ == "__main__":
    main()
