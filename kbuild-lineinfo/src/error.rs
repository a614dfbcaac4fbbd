//! The library's one error type.
use std::fmt;

/// What went wrong, with the numbers that explain it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The ELF file could not be parsed.
    Elf(String),
    /// DWARF could not be parsed.
    Dwarf(String),
    /// A relocation could not be applied.
    Relocation(String),
    /// A required symbol is missing.
    MissingSymbol(&'static str),
    /// More file names than a table can hold.
    TooManyFiles(usize),
    /// Anything else that is wrong with the input.
    Invalid(String),
}

/// An error, with the place in the input where it was found when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    /// E.g. `.debug_line+0x1234`.
    pub place: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind) -> Self {
        Error { kind, place: None }
    }
    pub fn at(mut self, place: impl Into<String>) -> Self {
        if self.place.is_none() {
            self.place = Some(place.into());
        }
        self
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Elf(m) => write!(f, "bad ELF: {m}"),
            ErrorKind::Dwarf(m) => write!(f, "bad DWARF: {m}"),
            ErrorKind::Relocation(m) => write!(f, "relocation: {m}"),
            ErrorKind::MissingSymbol(s) => write!(f, "symbol `{s}` not found"),
            ErrorKind::TooManyFiles(n) => {
                write!(f, "{n} distinct file names, a table holds at most 65535")
            }
            ErrorKind::Invalid(m) => f.write_str(m),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.place {
            Some(p) => write!(f, "{p}: {}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl std::error::Error for Error {}

impl From<object::read::Error> for Error {
    fn from(e: object::read::Error) -> Self {
        Error::new(ErrorKind::Elf(e.to_string()))
    }
}

impl From<gimli::Error> for Error {
    fn from(e: gimli::Error) -> Self {
        Error::new(ErrorKind::Dwarf(e.to_string()))
    }
}
