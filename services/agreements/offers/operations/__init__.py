"""Operations of the offer directory: plain functions that flush and never commit."""
