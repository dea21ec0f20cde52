package org.fhiradapter.hapiserver;

import ca.uhn.fhir.batch2.jobs.config.Batch2JobsConfig;
import ca.uhn.fhir.jpa.api.config.ThreadPoolFactoryConfig;
import ca.uhn.fhir.jpa.batch2.JpaBatch2Config;
import ca.uhn.fhir.jpa.config.HapiJpaConfig;
import ca.uhn.fhir.jpa.config.r4.JpaR4Config;
import ca.uhn.fhir.jpa.subscription.channel.config.SubscriptionChannelConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.autoconfigure.data.elasticsearch.ElasticsearchDataAutoConfiguration;
import org.springframework.boot.autoconfigure.data.elasticsearch.ElasticsearchRepositoriesAutoConfiguration;
import org.springframework.boot.autoconfigure.elasticsearch.ElasticsearchClientAutoConfiguration;
import org.springframework.boot.autoconfigure.elasticsearch.ElasticsearchRestClientAutoConfiguration;
import org.springframework.boot.autoconfigure.quartz.QuartzAutoConfiguration;
import org.springframework.boot.autoconfigure.thymeleaf.ThymeleafAutoConfiguration;
import org.springframework.context.annotation.Import;

/**
 * A HAPI FHIR JPA server (FHIR R4) for fhir-adapter: H2 in a folder of its own, $import, and
 * request validation against the FHIR packages given on the command line.
 *
 * <pre>
 * java -jar hapi-server.jar --port 8080 --data /tmp/hapi-data [--packages DIR] [--no-validation]
 * </pre>
 *
 * It listens on 127.0.0.1 only; the FHIR base is http://127.0.0.1:PORT/fhir.
 */
// Spring Boot would otherwise start clients for an Elasticsearch and a Quartz it does not have.
@SpringBootApplication(
		exclude = {
			QuartzAutoConfiguration.class,
			ThymeleafAutoConfiguration.class,
			ElasticsearchClientAutoConfiguration.class,
			ElasticsearchRestClientAutoConfiguration.class,
			ElasticsearchDataAutoConfiguration.class,
			ElasticsearchRepositoriesAutoConfiguration.class
		})
@Import({
	JpaR4Config.class,
	HapiJpaConfig.class,
	ThreadPoolFactoryConfig.class,
	JpaBatch2Config.class,
	Batch2JobsConfig.class,
	// The in-memory message channels batch2 jobs (\$import) run on.
	SubscriptionChannelConfig.class,
	ServerConfig.class
})
public class HapiServer {

	public static void main(String[] args) throws Exception {
		Map<String, Object> settings = settingsFrom(args);
		SpringApplication app = new SpringApplication(HapiServer.class);
		app.setDefaultProperties(settings);
		app.run();
	}

	/** Spring settings from our own few options; anything else is a usage error. */
	static Map<String, Object> settingsFrom(String[] args) throws Exception {
		String port = null;
		String data = null;
		String packages = "";
		boolean validation = true;
		for (int i = 0; i < args.length; i++) {
			switch (args[i]) {
				case "--port" -> port = value(args, ++i);
				case "--data" -> data = value(args, ++i);
				case "--packages" -> packages = value(args, ++i);
				case "--no-validation" -> validation = false;
				default -> usage("unknown option " + args[i]);
			}
		}
		if (port == null || data == null) {
			usage("--port and --data are required");
		}
		Path dataDir = Path.of(data).toAbsolutePath();
		Files.createDirectories(dataDir);
		Map<String, Object> settings = new HashMap<>();
		// Loopback only: this server has no authentication.
		settings.put("server.address", "127.0.0.1");
		settings.put("server.port", port);
		settings.put("spring.main.banner-mode", "off");
		// HAPI's JPA configuration has bean cycles that Spring Boot refuses by default.
		settings.put("spring.main.allow-circular-references", "true");
		settings.put("spring.main.allow-bean-definition-overriding", "true");
		settings.put("spring.datasource.url", "jdbc:h2:file:" + dataDir.resolve("h2") + ";DB_CLOSE_ON_EXIT=FALSE");
		settings.put("spring.datasource.username", "sa");
		settings.put("spring.datasource.password", "");
		settings.put("spring.datasource.driver-class-name", "org.h2.Driver");
		settings.put("spring.datasource.hikari.maximum-pool-size", "20");
		settings.put("spring.jpa.open-in-view", "false");
		settings.put("spring.batch.job.enabled", "false");
		settings.put("fhiradapter.packages", packages.isEmpty() ? "" : Path.of(packages).toAbsolutePath().toString());
		settings.put("fhiradapter.validation", Boolean.toString(validation));
		return settings;
	}

	private static String value(String[] args, int i) {
		if (i >= args.length) {
			usage(args[i - 1] + " needs a value");
		}
		return args[i];
	}

	private static void usage(String problem) {
		System.err.println("hapi-server: " + problem);
		System.err.println("usage: java -jar hapi-server.jar --port PORT --data DIR [--packages DIR] [--no-validation]");
		System.exit(2);
	}
}
