//! The store on real files:
//!
//! ```sh
//! cargo run -- /tmp/kv put apples 3
//! cargo run -- /tmp/kv get apples
//! cargo run -- /tmp/kv list
//! ```

use std::path::Path;

use kvstore::KvStore;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let dir = args.first().ok_or("usage: kvstore DIR (put KEY VALUE | get KEY | list)")?;
        let mut store = KvStore::open(Path::new(dir)).await?;
        match args.get(1..).unwrap_or_default() {
            [cmd, key, value] if cmd == "put" => {
                store.put(key, value.parse()?).await?;
                println!("{key} = {value} (durable)");
            }
            [cmd, key] if cmd == "get" => println!("{key} = {:?}", store.get(key)),
            [cmd] if cmd == "list" => {
                for (k, v) in store.all() {
                    println!("{k} = {v}");
                }
            }
            _ => return Err("usage: kvstore DIR (put KEY VALUE | get KEY | list)".into()),
        }
        Ok(())
    })
}
