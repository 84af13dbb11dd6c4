//! The migrations are embedded at compile time (`embed_migrations!`): a new migration directory
//! must rebuild the crate, which cargo does not know without being told.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
