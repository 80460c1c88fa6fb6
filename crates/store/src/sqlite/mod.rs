//! The SQLite engine on rusqlite: a read pool used inline and one writer
//! thread with group commit; see [`reader`] and [`writer`].

mod reader;
mod values;
mod writer;

pub(crate) use reader::Reader;
pub(crate) use writer::{Session, Writer};
