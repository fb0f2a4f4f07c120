//! Free text: names (one line) and notes or messages (may span lines). Both end up in public leaves, so both
//! refuse anything shaped like a resident ID or bank card number ([`crate::personal`]).

/// A name: of an enterprise (企业名称), a project (项目名称), a 开发园区, or a key holder. 1–200 characters, one
/// line, no control characters, no leading or trailing whitespace (including the full-width space U+3000).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

/// Why a string is not a [`Name`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty string.
    #[error("name must not be empty")]
    Empty,
    /// More than 200 characters.
    #[error("name must be at most {max} characters, got {len}")]
    TooLong {
        /// Characters found.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A control character (including line breaks).
    #[error("name: control character at position {position}")]
    ControlCharacter {
        /// 1-based position.
        position: usize,
    },
    /// Whitespace at the start or end.
    #[error("name must not start or end with whitespace")]
    SurroundingWhitespace,
    /// Shaped like a resident ID or bank card number (the value is public: it must never carry one).
    #[error("{}", crate::personal::PERSONAL_NUMBER_MESSAGE)]
    PersonalNumber,
}

impl Name {
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 200;

    /// Parses a name.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        let len = s.chars().count();
        if len > Self::MAX_LEN {
            return Err(NameError::TooLong { len, max: Self::MAX_LEN });
        }
        if let Some(i) = s.chars().position(char::is_control) {
            return Err(NameError::ControlCharacter { position: i + 1 });
        }
        if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
            return Err(NameError::SurroundingWhitespace);
        }
        if crate::personal::looks_like_personal_number(s) {
            return Err(NameError::PersonalNumber);
        }
        Ok(Self(s.to_owned()))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype!(Name, NameError);

/// A message or note (e.g. an alarm's Chinese message, a reason): 1–2000 characters, not only whitespace; line
/// breaks (`\n`) allowed, no other control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Text(String);

/// Why a string is not a [`Text`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Empty string.
    #[error("text must not be empty")]
    Empty,
    /// Only whitespace.
    #[error("text must not be blank")]
    Blank,
    /// More than 2000 characters.
    #[error("text must be at most {max} characters, got {len}")]
    TooLong {
        /// Characters found.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A control character other than `\n`.
    #[error("text: control character at position {position} (only \\n is allowed)")]
    ControlCharacter {
        /// 1-based position.
        position: usize,
    },
    /// Contains something shaped like a resident ID or bank card number (texts are public: they must never carry
    /// one).
    #[error("{}", crate::personal::PERSONAL_NUMBER_MESSAGE)]
    PersonalNumber,
}

impl Text {
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 2000;

    /// Parses a text.
    pub fn parse(s: &str) -> Result<Self, TextError> {
        if s.is_empty() {
            return Err(TextError::Empty);
        }
        let len = s.chars().count();
        if len > Self::MAX_LEN {
            return Err(TextError::TooLong { len, max: Self::MAX_LEN });
        }
        if let Some(i) = s.chars().position(|c| c.is_control() && c != '\n') {
            return Err(TextError::ControlCharacter { position: i + 1 });
        }
        if s.chars().all(char::is_whitespace) {
            return Err(TextError::Blank);
        }
        if crate::personal::looks_like_personal_number(s) {
            return Err(TextError::PersonalNumber);
        }
        Ok(Self(s.to_owned()))
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype!(Text, TextError);
