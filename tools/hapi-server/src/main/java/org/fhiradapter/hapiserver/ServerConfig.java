package org.fhiradapter.hapiserver;

import ca.uhn.fhir.batch2.jobs.imprt.BulkDataImportProvider;
import ca.uhn.fhir.batch2.maintenance.JobMaintenanceServiceImpl;
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.dao.IFhirSystemDao;
import ca.uhn.fhir.jpa.config.HibernatePropertiesProvider;
import ca.uhn.fhir.jpa.config.util.HapiEntityManagerFactoryUtil;
import ca.uhn.fhir.jpa.model.config.PartitionSettings;
import ca.uhn.fhir.jpa.model.config.SubscriptionSettings;
import ca.uhn.fhir.jpa.model.dialect.HapiFhirH2Dialect;
import ca.uhn.fhir.jpa.packages.IPackageInstallerSvc;
import ca.uhn.fhir.jpa.packages.PackageInstallationSpec;
import ca.uhn.fhir.jpa.provider.JpaCapabilityStatementProvider;
import ca.uhn.fhir.jpa.provider.JpaSystemProvider;
import ca.uhn.fhir.jpa.search.DatabaseBackedPagingProvider;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.interceptor.RequestValidatingInterceptor;
import ca.uhn.fhir.rest.server.provider.ResourceProviderFactory;
import ca.uhn.fhir.rest.server.util.ISearchParamRegistry;
import ca.uhn.fhir.validation.IInstanceValidatorModule;
import ca.uhn.fhir.validation.ResultSeverityEnum;
import jakarta.persistence.EntityManagerFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.sql.DataSource;
import org.hibernate.dialect.Dialect;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.web.servlet.ServletRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Primary;
import org.springframework.orm.jpa.JpaTransactionManager;
import org.springframework.orm.jpa.LocalContainerEntityManagerFactoryBean;

/** The beans HAPI's JPA configuration leaves to the application, and the REST server at /fhir. */
@Configuration
public class ServerConfig {

	private static final Logger log = LoggerFactory.getLogger(ServerConfig.class);
	// npm pack names its files <name>-<version>.tgz; a version starts with a digit.
	private static final Pattern PACKAGE_FILE = Pattern.compile("^(.+?)-(\\d[^/]*)\\.tgz$");

	@Bean
	public JpaStorageSettings storageSettings() {
		JpaStorageSettings settings = new JpaStorageSettings();
		// Defaults as a HAPI user meets them: client ids must not be purely numeric (HAPI-0960),
		// no placeholder resources for dangling references, search results cached for a minute.
		settings.setResourceClientIdStrategy(JpaStorageSettings.ClientIdStrategyEnum.ALPHANUMERIC);
		settings.setAutoCreatePlaceholderReferenceTargets(false);
		settings.setAllowExternalReferences(false);
		settings.setEnableTaskBulkImportJobExecution(true);
		// A small $import moves from step to step at once instead of at the next maintenance pass
		// (a minute apart): the same job, without the waiting.
		settings.setJobFastTrackingEnabled(true);
		return settings;
	}

	/**
	 * Batch2 jobs ($import) start, and leave a step that waits, at a maintenance pass: once a
	 * minute by default, once every two seconds here, so that each round of an import does not
	 * wait a minute to begin.
	 */
	@Bean
	public static BeanPostProcessor frequentJobMaintenance() {
		return new BeanPostProcessor() {
			@Override
			public Object postProcessBeforeInitialization(Object bean, String name) {
				if (bean instanceof JobMaintenanceServiceImpl maintenance) {
					maintenance.setScheduledJobFrequencyMillis(2000);
				}
				return bean;
			}
		};
	}

	@Bean
	public PartitionSettings partitionSettings() {
		return new PartitionSettings();
	}

	@Bean
	public SubscriptionSettings subscriptionSettings() {
		return new SubscriptionSettings();
	}

	@Bean
	@Primary
	public HibernatePropertiesProvider hibernatePropertiesProvider() {
		return new HibernatePropertiesProvider() {
			@Override
			public Dialect getDialect() {
				return new HapiFhirH2Dialect();
			}
		};
	}

	@Bean
	@Primary
	public LocalContainerEntityManagerFactoryBean entityManagerFactory(
			ConfigurableListableBeanFactory beanFactory,
			FhirContext fhirContext,
			JpaStorageSettings storageSettings,
			DataSource dataSource) {
		LocalContainerEntityManagerFactoryBean factory =
				HapiEntityManagerFactoryUtil.newEntityManagerFactory(beanFactory, fhirContext, storageSettings);
		Properties jpa = new Properties();
		jpa.put("hibernate.dialect", HapiFhirH2Dialect.class.getName());
		jpa.put("hibernate.hbm2ddl.auto", "update");
		jpa.put("hibernate.format_sql", "false");
		jpa.put("hibernate.show_sql", "false");
		jpa.put("hibernate.jdbc.batch_size", "20");
		jpa.put("hibernate.cache.use_query_cache", "false");
		jpa.put("hibernate.cache.use_second_level_cache", "false");
		// No full-text index: Lucene adds start-up time and nothing these tests use.
		jpa.put("hibernate.search.enabled", "false");
		factory.setPersistenceUnitName("HAPI_PU");
		factory.setJpaProperties(jpa);
		factory.setDataSource(dataSource);
		return factory;
	}

	@Bean
	@Primary
	public JpaTransactionManager transactionManager(EntityManagerFactory entityManagerFactory) {
		JpaTransactionManager manager = new JpaTransactionManager();
		manager.setEntityManagerFactory(entityManagerFactory);
		return manager;
	}

	@Bean
	public RestfulServer restfulServer(
			IFhirSystemDao<?, ?> systemDao,
			ResourceProviderFactory resourceProviders,
			JpaSystemProvider<?, ?> systemProvider,
			JpaStorageSettings storageSettings,
			ISearchParamRegistry searchParamRegistry,
			IValidationSupport validationSupport,
			DatabaseBackedPagingProvider pagingProvider,
			BulkDataImportProvider bulkImportProvider,
			IInstanceValidatorModule instanceValidator,
			IPackageInstallerSvc packageInstaller,
			@Value("${fhiradapter.packages}") String packages,
			@Value("${fhiradapter.validation}") boolean validation)
			throws IOException {
		installPackages(packageInstaller, packages);

		RestfulServer server = new RestfulServer(systemDao.getContext());
		server.registerProviders(resourceProviders.createProviders());
		server.registerProvider(systemProvider);
		server.registerProvider(bulkImportProvider);
		JpaCapabilityStatementProvider capabilities = new JpaCapabilityStatementProvider(
				server, systemDao, storageSettings, searchParamRegistry, validationSupport);
		capabilities.setImplementationDescription("fhir-adapter test server (HAPI FHIR JPA, R4)");
		server.setServerConformanceProvider(capabilities);
		pagingProvider.setDefaultPageSize(50);
		pagingProvider.setMaximumPageSize(500);
		server.setPagingProvider(pagingProvider);
		server.setDefaultPrettyPrint(false);

		if (validation) {
			// A request whose body breaks its declared profile (meta.profile) is refused with the
			// validator's OperationOutcome; warnings do not refuse it.
			RequestValidatingInterceptor validator = new RequestValidatingInterceptor();
			validator.setFailOnSeverity(ResultSeverityEnum.ERROR);
			validator.setAddResponseHeaderOnSeverity(null);
			validator.setValidatorModules(List.of(new UncheckableAsWarnings(instanceValidator, validationSupport)));
			server.registerInterceptor(validator);
		}
		return server;
	}

	@Bean
	public ServletRegistrationBean<RestfulServer> fhirServlet(RestfulServer server) {
		ServletRegistrationBean<RestfulServer> registration = new ServletRegistrationBean<>(server, "/fhir/*");
		registration.setLoadOnStartup(1);
		return registration;
	}

	/** Store every <name>-<version>.tgz of the folder in the server's package cache, with no download. */
	private static void installPackages(IPackageInstallerSvc installer, String folder) throws IOException {
		if (folder == null || folder.isBlank()) {
			return;
		}
		List<Path> files;
		try (Stream<Path> listing = Files.list(Path.of(folder))) {
			files = listing.filter(p -> p.toString().endsWith(".tgz")).sorted().toList();
		}
		for (Path file : files) {
			Matcher name = PACKAGE_FILE.matcher(file.getFileName().toString());
			if (!name.matches()) {
				throw new IllegalArgumentException(file + ": not named <package>-<version>.tgz");
			}
			PackageInstallationSpec spec = new PackageInstallationSpec()
					.setName(name.group(1))
					.setVersion(name.group(2))
					.setPackageContents(Files.readAllBytes(file))
					// Its dependencies come from this folder too, or not at all: no network.
					.setFetchDependencies(false)
					.setInstallMode(PackageInstallationSpec.InstallModeEnum.STORE_ONLY);
			installer.install(spec);
			log.info("installed FHIR package {}#{} from {}", name.group(1), name.group(2), file);
		}
	}
}
