// Carries the precompiled LibTorch header that every program selfsup builds itself reuses.
