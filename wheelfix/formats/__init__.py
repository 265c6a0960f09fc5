"""File formats wheelfix reads and writes, each behind a bounded reader that never trusts its input:
ELF (and the strip engine), the wheel archive, RECORD, and the reproducible wheel writer."""
