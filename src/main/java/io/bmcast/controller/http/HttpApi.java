package io.bmcast.controller.http;

import io.bmcast.controller.AccessTokens;
import io.bmcast.controller.AgentGateway;
import io.bmcast.controller.EventFeed;
import io.bmcast.controller.FleetMetrics;
import io.bmcast.controller.FleetSummary;
import io.bmcast.controller.ImageCatalog;
import io.bmcast.controller.InstanceLifecycle;
import io.bmcast.controller.Limits;
import io.bmcast.controller.NodeAdmin;
import io.bmcast.util.Jackson;
import io.javalin.Javalin;
import io.javalin.config.SizeUnit;
import io.javalin.http.Context;
import io.javalin.http.staticfiles.Location;
import io.javalin.json.JavalinJackson;
import io.javalin.router.Endpoint;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import javax.net.ssl.SSLContext;

/**
 * The controller's HTTP side (Javalin on Jetty, virtual threads): the REST API under {@code /api/v1}, the
 * agents' endpoints, {@code /metrics}, the login link, and the dashboard's static files. Handlers are
 * thin: parse, authorize, one domain call, map the result.
 */
public final class HttpApi implements AutoCloseable {
    /** The uPlot WebJar's files, served to the dashboard as {@code /assets/uplot/...}. */
    static final String UPLOT_DIR = "/META-INF/resources/webjars/uplot/1.6.30/dist";
    private static final String START_NANOS = "bmcast.start";
    /**
     * Connections the kernel may hold for us before we accept them. Java's default of 50 is less than a fleet
     * whose agents all reconnect at once (a controller restart): the excess then waits on TCP retransmits.
     */
    static final int ACCEPT_QUEUE = 1024;

    /** The domain objects the endpoints call. */
    public record Services(AccessTokens tokens, AgentGateway agents, InstanceLifecycle instances, ImageCatalog images,
            FleetSummary summary, EventFeed events, FleetMetrics metrics, NodeAdmin nodes) {}

    private final Javalin app;
    private final List<String> routes;

    private HttpApi(Javalin app, List<String> routes) {
        this.app = app;
        this.routes = routes;
    }

    /**
     * Listens on {@code host:port}, over HTTPS when {@code tls} is given; a port in use or an unresolvable host
     * is an IOException that says so.
     */
    public static HttpApi start(String host, int port, SSLContext tls, Services s, Limits limits) throws IOException {
        byte[] openApi = resource("/io/bmcast/controller/openapi.json");
        Access access = new Access(s.tokens());
        BodyLimits bodies = new BodyLimits(limits);
        List<String> routes = Collections.synchronizedList(new ArrayList<>());
        Javalin app = Javalin.create(config -> {
            config.startup.showJavalinBanner = false;
            config.startup.showOldJavalinVersionWarning = false;
            config.concurrency.useVirtualThreads = true;
            config.jsonMapper(new JavalinJackson(Jackson.MAPPER, false));
            config.jetty.modifyServer(server -> server.addEventListener(new org.eclipse.jetty.util.component.LifeCycle.Listener() {
                @Override
                public void lifeCycleStarting(org.eclipse.jetty.util.component.LifeCycle event) {
                    for (var c : server.getConnectors()) {
                        if (c instanceof org.eclipse.jetty.server.ServerConnector sc) sc.setAcceptQueueSize(ACCEPT_QUEUE);
                    }
                }
            }));
            if (tls != null) config.jetty.addConnector((server, http) -> HttpsConnector.create(server, http, tls, host, port));
            // Bodies are read through BodyLimits; this is Javalin's own bound should anything read one otherwise.
            config.http.maxRequestSize = limits.maxHeartbeatBody();
            // An upload's files go to disk past 64 KiB and are streamed into the store from there, never held whole.
            config.jetty.multipartConfig.maxFileSize(limits.maxUpload(), SizeUnit.BYTES);
            config.jetty.multipartConfig.maxTotalRequestSize(limits.maxUpload(), SizeUnit.BYTES);
            config.jetty.multipartConfig.maxInMemoryFileSize(64, SizeUnit.KB);
            config.staticFiles.add(sf -> {
                sf.hostedPath = "/";
                sf.directory = "/dashboard";
                sf.location = Location.CLASSPATH;
            });
            config.events.handlerAdded(h -> routes.add(h.getHttpMethod().name() + " " + h.getPath()));

            var r = config.routes;
            ErrorMapping.register(r);
            if (tls != null) r.before(HttpsConnector::refusePlainHttp);
            r.before("/api/v1/*", ctx -> {
                ctx.attribute(START_NANOS, System.nanoTime());
                access.authenticate(ctx);
            });
            r.before("/metrics", access::authenticate);
            r.before(bodies::check); // after authenticate: the upload's limit depends on who sends it
            r.after("/api/v1/*", ctx -> recordLatency(ctx, s.metrics()));
            r.get("/login", access::login);
            r.get("/assets/uplot/{file}", HttpApi::uplot);
            r.get("/api/v1/openapi.json", ctx -> {
                Access.anyone(ctx);
                ctx.contentType("application/json").result(openApi);
            });
            AgentEndpoints.register(r, s.agents(), s.images());
            InstanceEndpoints.register(r, s.instances());
            ImageEndpoints.register(r, s.images());
            FleetEndpoints.register(r, s.summary(), s.tokens(), s.metrics(), s.nodes());
            EventEndpoints.register(r, s.events());
        });
        try {
            if (tls != null) app.start(); // the connector above, and no plain one
            else app.start(host, port);
        } catch (RuntimeException e) {
            Throwable root = e;
            while (root.getCause() != null && root.getCause() != root) root = root.getCause();
            throw new IOException("cannot listen on " + host + ":" + port + ": " + root.getMessage(), e);
        }
        return new HttpApi(app, routes);
    }

    public int port() {
        return app.port();
    }

    /** Every endpoint as {@code METHOD /path}, as registered (for the OpenAPI document's test). */
    public List<String> routes() {
        return List.copyOf(routes);
    }

    private static void recordLatency(Context ctx, FleetMetrics metrics) {
        Long start = ctx.attribute(START_NANOS);
        Endpoint matched = ctx.endpoints().matchedHttpEndpoint();
        if (start == null || matched == null) return;
        // A long-poll's time is mostly its wait: counted apart, so that heartbeat latency stays the controller's work.
        String route = ctx.queryParam("wait") != null && matched.path.equals(AgentEndpoints.HEARTBEAT) ? matched.path + " (long-poll)" : matched.path;
        metrics.apiCall(ctx.method().name(), route, ctx.statusCode(), System.nanoTime() - start);
    }

    /** The charting library's files straight from its WebJar (Javalin's static handler does not see into it). */
    private static void uplot(Context ctx) {
        String file = ctx.pathParam("file");
        if (!file.matches("[A-Za-z0-9._-]+") || file.startsWith(".")) throw new io.javalin.http.NotFoundResponse();
        InputStream in = HttpApi.class.getResourceAsStream(UPLOT_DIR + "/" + file);
        if (in == null) throw new io.javalin.http.NotFoundResponse();
        String type = file.endsWith(".css") ? "text/css" : file.endsWith(".js") ? "text/javascript" : "application/octet-stream";
        ctx.header("Cache-Control", "max-age=86400").contentType(type + "; charset=utf-8").result(in);
    }

    private static byte[] resource(String name) {
        try (InputStream in = HttpApi.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("resource " + name + " is missing from the class path");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        app.stop();
    }
}
