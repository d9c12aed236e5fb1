"""Small shared helpers: logging, atomic file writes, seeding, config printing."""
