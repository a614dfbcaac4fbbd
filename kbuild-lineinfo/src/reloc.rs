//! `ET_REL` relocations of debug sections (FORMAT.md §1, modules).
