//! The SQLite engine on rusqlite: a read pool used inline and one writer
//! thread with group commit; see [`reader`] and [`writer`].

mod checkpoint;
mod model;
mod reader;
mod values;
mod writer;

pub(crate) use model::sqlite_model;
pub(crate) use model::{SqliteModel, read as read_field};
pub(crate) use reader::Reader;
pub(crate) use writer::Session;
pub(crate) use writer::{Step, Writer};
