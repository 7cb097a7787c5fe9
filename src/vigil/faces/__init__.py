"""Face detection (YuNet), alignment, quality gates and embedding (SFace) on person tracks."""
