"""Operations analytics built on the mirror: call analysis, booking success, API health."""
