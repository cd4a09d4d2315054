// A real cloud-controller-manager for kvlog's local e2e cluster: upstream's
// k8s.io/cloud-provider/app (the same command, flags, secure serving, delegated
// authn/authz, /debug/flags/v and leader election as any external CCM) with the
// fake cloud of k8s.io/cloud-provider/fake. Modelled on
// k8s.io/cloud-provider/sample/basic_main.go; build/build.sh builds it per release
// in its own generated module (cloud-provider at the release's v0.Y.Z).
//
// The fake cloud is set so that it can do no harm to the cluster's nodes:
//   - ExistsByProviderID: true (the default, false, says no node exists in the cloud, and
//     the cloud node-lifecycle controller would delete every NotReady node: the 1,200
//     fleet nodes); up.sh also runs it with --controllers=*,-cloud-node-lifecycle.
//   - no addresses: the cloud-node controller skips the address update of every node
//     ("Skipping node address update ... since cloud provider did not return any", V(5)).
package main

import (
	"os"

	"k8s.io/apimachinery/pkg/util/wait"
	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/cloud-provider/app"
	"k8s.io/cloud-provider/app/config"
	"k8s.io/cloud-provider/fake"
	"k8s.io/cloud-provider/names"
	"k8s.io/cloud-provider/options"
	"k8s.io/component-base/cli"
	cliflag "k8s.io/component-base/cli/flag"
	_ "k8s.io/component-base/logs/json/register"          // register optional JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // load all the prometheus client-go plugins
	_ "k8s.io/component-base/metrics/prometheus/version"  // for version metric registration
	"k8s.io/klog/v2"
)

func main() {
	ccmOptions, err := options.NewCloudControllerManagerOptions()
	if err != nil {
		klog.Fatalf("unable to initialize command options: %v", err)
	}
	fss := cliflag.NamedFlagSets{}
	command := app.NewCloudControllerManagerCommand(ccmOptions, cloudInitializer, app.DefaultInitFuncConstructors, names.CCMControllerAliases(), fss, wait.NeverStop)
	os.Exit(cli.Run(command))
}

func cloudInitializer(c *config.CompletedConfig) cloudprovider.Interface {
	name := c.ComponentConfig.KubeCloudShared.CloudProvider.Name
	klog.Infof("kvlog-e2e: fake cloud %q (k8s.io/cloud-provider/fake, ExistsByProviderID=true)", name)
	return &fake.Cloud{
		Provider:           name,
		Exists:             true,
		ExistsByProviderID: true,
		Zone:               cloudprovider.Zone{FailureDomain: "eu-west-1a", Region: "eu-west-1"},
	}
}
