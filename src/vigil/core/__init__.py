"""Pure types and errors shared by every stage: no I/O here."""
