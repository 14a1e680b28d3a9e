//! Operational log lines. Callers never pass a token, a token hash or a session secret.

/// Logs an internal failure (workerd's console in the Worker, stderr in native tests).
pub fn error(message: &str) {
    #[cfg(target_arch = "wasm32")]
    worker::console_error!("{message}");
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{message}");
}
