/// The greeting `hello` prints.
pub fn greeting() -> &'static str {
    "hello from crates:dep"
}
