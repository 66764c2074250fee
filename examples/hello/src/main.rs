fn main() {
    let greeting = dep::greeting();
    #[cfg(feature = "shout")]
    let greeting = greeting.to_uppercase();
    println!("{}", greeting);
}
