//! The SQLite engine on rusqlite: a read pool used inline and one writer
//! thread with group commit; see [`reader`] and [`writer`].

mod model;
mod reader;
mod values;
mod writer;

pub(crate) use model::sqlite_model;
pub use model::{Field, SqliteModel};
pub use reader::Reader;
pub use writer::Session;
pub(crate) use writer::{Step, Writer};
