//! The alert webhook: alerts POSTed as JSON to `[alerts] webhook_url`.

use serde_json::Value;

/// Alerts on their way to `[alerts] webhook_url`: a bounded queue and one
/// task that POSTs them as JSON, each tried up to four times (waiting 1, 2,
/// then 4 s between tries, 5 s timeout each). Offering never waits: when
/// the queue is full (the receiver is down for long), the alert goes only
/// to the audit log and the log says so.
#[derive(Debug, Clone)]
pub struct Webhook(tokio::sync::mpsc::Sender<Value>);

/// Alerts waiting for the webhook, at most.
pub const WEBHOOK_QUEUE: usize = 256;

impl Webhook {
    /// Starts the sender task (on the current Tokio runtime).
    pub fn start(url: String) -> Self {
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<Value>(WEBHOOK_QUEUE);
        tokio::spawn(async move {
            let client = match reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .build()
            {
                Ok(client) => client,
                Err(error) => {
                    tracing::error!(%error, "alert webhook disabled: no HTTP client");
                    return;
                }
            };
            while let Some(alert) = receiver.recv().await {
                deliver(&client, &url, &alert).await;
            }
        });
        Self(sender)
    }

    pub fn offer(&self, alert: Value) {
        if let Err(error) = self.0.try_send(alert) {
            tracing::error!(%error, "alert not sent to the webhook (it is in the audit log)");
        }
    }
}

async fn deliver(client: &reqwest::Client, url: &str, alert: &Value) {
    for attempt in 0..4u32 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_secs(1 << (attempt - 1))).await;
        }
        match client.post(url).json(alert).send().await {
            Ok(response) if response.status().is_success() => return,
            Ok(response) => {
                tracing::warn!(status = %response.status(), attempt, "alert webhook refused")
            }
            Err(error) => tracing::warn!(%error, attempt, "alert webhook unreachable"),
        }
    }
    tracing::error!("alert webhook gave up after 4 tries (the alert is in the audit log)");
}
