"""Back office (filled in by the Back office issue)."""
