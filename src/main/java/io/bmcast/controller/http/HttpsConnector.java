package io.bmcast.controller.http;

import io.bmcast.controller.ControllerException;
import io.javalin.http.Context;
import javax.net.ssl.SSLContext;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.DetectorConnectionFactory;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;

/**
 * The controller's HTTPS listener: TLS 1.2 or 1.3 on one port. A client that speaks plain HTTP to that port
 * is not left with a reset connection it cannot explain: the first bytes tell TLS from plain text (Jetty's
 * detector), and a plain request is answered, in plain text, with one sentence that says to use https://
 * ({@link #refusePlainHttp}), whatever it asked for and whatever token it sent.
 */
final class HttpsConnector {
    private HttpsConnector() {}

    static Connector create(Server server, HttpConfiguration base, SSLContext tls, String host, int port) {
        SslContextFactory.Server factory = new SslContextFactory.Server();
        factory.setSslContext(tls);
        factory.setIncludeProtocols("TLSv1.3", "TLSv1.2");
        HttpConfiguration https = new HttpConfiguration(base);
        SecureRequestCustomizer secure = new SecureRequestCustomizer();
        // Whether the certificate fits the name a client asked for is the client's check; Jetty's own would
        // refuse a client that reached us by an address the certificate does not list with a bare 400.
        secure.setSniHostCheck(false);
        https.addCustomizer(secure);
        HttpConnectionFactory http11 = new HttpConnectionFactory(https);
        SslConnectionFactory ssl = new SslConnectionFactory(factory, http11.getProtocol());
        ServerConnector c = new ServerConnector(server, new DetectorConnectionFactory(ssl), http11);
        c.setHost(host);
        c.setPort(port);
        return c;
    }

    /** Before every request on an HTTPS controller: one that came in plain text is refused, nothing else done. */
    static void refusePlainHttp(Context ctx) {
        if (ctx.req().isSecure()) return;
        ctx.header("Connection", "close");
        throw ControllerException.invalid("this controller speaks HTTPS only: use https://" + ctx.host() + ctx.path()
                + " (plain HTTP would carry tokens in the clear)");
    }
}
