//! `server argon2-rate [SECONDS]`: how many sign-ins per second this
//! machine can hash at most. Runs the server's own argon2id verification
//! (same parameters, same allocator) on one thread per core and prints
//! JSON. An operator sizes `[password] hash_concurrency` with it;
//! `make bench` uses it as the ceiling for the sign-in workload (W2).

use std::time::{Duration, Instant};

use app::ssr::auth::password::hash_now;
use app::ssr::auth::password::verify_now;

pub fn measure(seconds: f64) -> Result<String, String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let password = "Quartz ladle orbit 97 yawn";
    let phc = hash_now(password).map_err(|e| e.to_string())?;

    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let hashes: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = 0u64;
                    while Instant::now() < deadline && verify_now(password, &phc) {
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    let elapsed = started.elapsed().as_secs_f64();
    Ok(format!(
        "{{\"threads\": {threads}, \"hashes\": {hashes}, \"seconds\": {elapsed:.3}, \
         \"hashes_per_sec\": {:.1}}}",
        hashes as f64 / elapsed
    ))
}
