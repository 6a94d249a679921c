//! Small shared utilities below the model: reading JSON configuration documents,
//! files written atomically, folder locks, and tensor files (safetensors with a JSON
//! document).

pub mod atomic;
pub mod format;
pub mod json;
pub mod lock;
pub mod memory;
pub mod tensor_file;
