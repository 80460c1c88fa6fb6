//! Authentication: who is calling.

pub mod tokens;

pub use tokens::{Claims, JwtSigner};
