//! The service under measurement: started in-process on a runtime built as `hwledger serve`
//! builds it (one worker per core) and served over real HTTP on 127.0.0.1. Shared by the
//! benches through `#[path]`.

use anyhow::Context;
use hwledger::service::{Service, ServiceConfig};

pub struct Served {
    pub rt: tokio::runtime::Runtime,
    pub service: Service,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    /// Starts the service of `config` and serves it on a free port.
    pub fn start(config: ServiceConfig) -> anyhow::Result<Served> {
        let db = config.db.clone();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("service")
            .build()?;
        let service = rt.block_on(Service::start(config))?;
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = rt.spawn(hwledger::api::serve(
            listener,
            service.router(),
            async move {
                let _ = stopped.await;
            },
        ));
        println!("service on {base}, {db}");
        Ok(Served {
            rt,
            service,
            base,
            stop,
            server,
        })
    }

    /// Stops serving (requests in flight finish), then the service; gives the runtime back for
    /// the work that follows.
    pub fn stop(self) -> anyhow::Result<tokio::runtime::Runtime> {
        let _ = self.stop.send(());
        let served = self.rt.block_on(self.server);
        self.rt.block_on(self.service.shutdown());
        served.context("the server task")?.context("the server")?;
        Ok(self.rt)
    }
}
