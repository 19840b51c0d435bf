"""Operations analytics derived from the mirrored tables: deterministic rules, no LLM at run time."""
