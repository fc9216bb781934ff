//! `auth0-api`: the command-line tool.

fn main() {
    std::process::exit(2);
}
