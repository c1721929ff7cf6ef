//! Running one node: open the farm's Raft state, apply the config file as one
//! versioned change, serve gRPC (Raft transport, cluster admin, health) and
//! HTTP health, watch the drop folder, run the pipeline and the SMTP front
//! door, and stop everything through one shutdown path on SIGTERM or Ctrl-C:
//! the node turns not-ready, the SMTP listener drains (transactions in flight
//! finish), the pipeline finishes its batches, the farm handle stops, and
//! gRPC and HTTP stop last, so peers reach this node while it drains.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use postroom_cluster::{Farm, FarmOptions};
use postroom_core::config::ConfigFile;
use postroom_dropfolder::{DropFolder, WatchSettings};
use postroom_library::Quarantine;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tracing::{info, warn};

use crate::authentication::Authenticator;
use crate::counters::Counters;
use crate::front_door;
use crate::pipeline::Pipeline;
use crate::probe::NodeFacts;
use crate::settings::Loaded;

/// How often readiness (`/readyz`, grpc.health.v1) is re-evaluated.
const READINESS_EVERY: Duration = Duration::from_secs(1);

/// Run a node until SIGTERM / Ctrl-C.
pub async fn serve(loaded: Loaded) -> anyhow::Result<()> {
    // Listen for SIGTERM first: as a container's PID 1 the default would be to ignore it.
    let stop_requested = CancellationToken::new();
    tokio::spawn({
        let stop = stop_requested.clone();
        async move {
            wait_for_signal().await;
            stop.cancel();
        }
    });
    let cfg = &loaded.config;
    let data_dir = &cfg.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("data_dir {}: cannot create it", data_dir.display()))?;
    let listen = &cfg.cluster.listen;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cluster.listen {listen}: cannot bind"))?;
    let bound = listener.local_addr()?;
    let advertise = cfg.cluster.advertised_address(bound);

    let farm = Arc::new(
        Farm::open(FarmOptions {
            node_id: cfg.cluster.node_id,
            advertise_addr: advertise.clone(),
            dir: data_dir.join("raft"),
            snapshot_every: cfg.cluster.snapshot_every,
            formation: cfg.cluster.formation(),
            local_ip: Some(bound.ip()).filter(|ip| !ip.is_unspecified()),
            security: loaded.security.peer(),
        })
        .await
        .context("opening the farm state")?,
    );

    // Two stages: `shutdown` stops the intake (drop folder, pipeline) once
    // SMTP has drained; `serving` stops gRPC (Raft, admin) and HTTP last,
    // after the farm handle, so peers can reach this node while it drains.
    let shutdown = CancellationToken::new();
    let serving = CancellationToken::new();
    let facts = Arc::new(NodeFacts::new(cfg.smtp.enabled));
    let (health, health_service) = tonic_health::server::health_reporter();
    let readiness = postroom_api::spawn_readiness_monitor(
        (*farm).clone(),
        facts.clone(),
        health,
        READINESS_EVERY,
        serving.clone(),
    );
    // Health and reflection stay open (probes, tools); the Raft service
    // checks the farm's secret itself; every admin service goes behind the
    // one `AdminAuth`.
    let security = &loaded.security;
    let admin_auth = security.admin_auth();
    let (reflection, reflection_alpha) = postroom_api::reflection_services()?;
    let intake = Arc::new(std::sync::OnceLock::new());
    let grpc = tokio::spawn(
        security
            .grpc_server()?
            .add_service(health_service)
            .add_service(reflection)
            .add_service(reflection_alpha)
            .add_service(farm.raft_service())
            .add_service(InterceptedService::new(
                postroom_api::cluster_admin_service(
                    (*farm).clone(),
                    facts.clone(),
                    security.peer_credentials(),
                ),
                admin_auth.clone(),
            ))
            .add_service(InterceptedService::new(
                postroom_api::farm_admin_service((*farm).clone()),
                admin_auth.clone(),
            ))
            .add_service(InterceptedService::new(
                postroom_api::library_admin_service((*farm).clone(), data_dir.clone()),
                admin_auth.clone(),
            ))
            .add_service(InterceptedService::new(
                postroom_api::message_admin_service(
                    (*farm).clone(),
                    data_dir.clone(),
                    intake.clone(),
                ),
                admin_auth.clone(),
            ))
            .serve_with_incoming_shutdown(
                // No Nagle: small gRPC frames (Raft appends, Submit answers)
                // would otherwise wait for delayed ACKs (~40 ms).
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                serving.clone().cancelled_owned(),
            ),
    );
    let http = start_http(cfg, readiness, serving.clone()).await?;

    let applied = tokio::select! {
        applied = crate::startup_config::apply_config_file(&farm, &loaded) => applied,
        _ = stop_requested.cancelled() => {
            info!("stopped before the farm was reachable");
            farm.shutdown().await?;
            serving.cancel();
            return Ok(());
        }
    };
    applied?;
    let farm_config = farm
        .read(|s| s.config().cloned())
        .context("the farm has no configuration after applying it")?;

    let drop_path = farm_config.drop_folder.resolved_path(data_dir);
    let (drop, ready) = DropFolder::start(
        WatchSettings {
            path: drop_path.clone(),
            poll_interval: farm_config.drop_folder.poll_interval.0,
            stable_after: farm_config.drop_folder.stable_after.0,
        },
        shutdown.child_token(),
    )
    .with_context(|| format!("drop_folder.path {}", drop_path.display()))?;
    facts.drop_folder_started(drop.clone(), drop_path.clone());
    let quarantine_path = farm_config.quarantine.resolved_path(data_dir);
    let quarantine = Arc::new(
        Quarantine::open(quarantine_path.clone())
            .with_context(|| format!("quarantine.path {}", quarantine_path.display()))?,
    );
    let counters = Arc::new(Counters::default());
    let hostname = cfg
        .smtp
        .hostname
        .clone()
        .unwrap_or_else(postroom_smtp::default_hostname);
    let pipeline = Arc::new(Pipeline::new(
        &cfg.cluster,
        data_dir.clone(),
        farm.clone(),
        drop.clone(),
        quarantine.clone(),
        counters.clone(),
        (
            Arc::new(Authenticator::new(
                &cfg.dns,
                &hostname,
                tokio::runtime::Handle::current(),
            )?),
            cfg.dns.give_up_after.0,
        ),
    ));
    let smtp_shutdown = CancellationToken::new();
    let spool = front_door::start_spool(&drop_path, cfg.cluster.node_id, drop)?;
    let _ = intake.set(postroom_api::NodeIntake {
        spool: spool.clone(),
        quarantine: quarantine.clone(),
        hostname,
    });
    let smtp = front_door::start(cfg, farm.clone(), spool.clone(), smtp_shutdown.clone()).await?;
    let pipeline_task = tokio::spawn(pipeline.run(ready, shutdown.clone()));
    let smtp_address = smtp
        .as_ref()
        .map_or_else(|| "off".to_string(), |s| s.address.to_string());
    let smtp_task = smtp.map(|smtp| {
        let ended = CancellationToken::new();
        facts.smtp_started(smtp.address.to_string(), ended.clone());
        tokio::spawn(async move {
            let result = smtp.task.await;
            ended.cancel();
            result
        })
    });
    info!(
        node = cfg.cluster.node_id,
        grpc = %advertise,
        smtp = %smtp_address,
        http = %http.map_or_else(|| "off".to_string(), |a| a.to_string()),
        drop_folder = %drop_path.display(),
        libraries = farm_config.libraries.len(),
        "node ready"
    );

    let reporter = tokio::spawn(report_counters(counters.clone(), shutdown.clone()));
    tokio::spawn(crate::quarantine_expiry::run(
        farm.clone(),
        quarantine,
        shutdown.clone(),
    ));
    stop_requested.cancelled().await;
    facts.stopping();
    if let Some(task) = smtp_task {
        smtp_shutdown.cancel();
        if !matches!(task.await, Ok(Ok(()))) {
            warn!("the smtp listener task ended abnormally");
        }
    }
    info!("shutting down: finishing the batches in flight");
    shutdown.cancel();
    if pipeline_task.await.is_err() {
        warn!("the pipeline task ended abnormally");
    }
    let _ = reporter.await;
    farm.shutdown().await?;
    serving.cancel();
    match grpc.await {
        Ok(Err(e)) => warn!(error = %e, "grpc server error"),
        Err(e) => warn!(error = %e, "grpc server task failed"),
        Ok(Ok(())) => {}
    }
    info!(counters = ?counters.snapshot(), "stopped");
    Ok(())
}

/// Bind `[http] listen` and serve `/healthz` and `/readyz` until `shutdown`.
async fn start_http(
    cfg: &ConfigFile,
    readiness: tokio::sync::watch::Receiver<postroom_api::Readiness>,
    shutdown: CancellationToken,
) -> anyhow::Result<Option<SocketAddr>> {
    if !cfg.http.enabled {
        return Ok(None);
    }
    let listen = &cfg.http.listen;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("http.listen {listen}: cannot bind"))?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = postroom_api::serve_http(listener, readiness, shutdown).await {
            warn!(error = %e, "http health endpoint failed");
        }
    });
    Ok(Some(address))
}

/// Log the counters once a minute when they changed.
async fn report_counters(counters: Arc<Counters>, shutdown: CancellationToken) {
    let mut last = counters.snapshot();
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = counters.snapshot();
        if now != last {
            info!(counters = ?now, "activity");
            last = now;
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
