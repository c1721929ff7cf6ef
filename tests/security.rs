//! Security end to end (placeholder).
