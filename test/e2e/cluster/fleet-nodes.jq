# fleet-nodes.jq: the fleet nodes up.sh registers without a kubelet, as a curl config
# (one POST /api/v1/nodes per node, for `curl --parallel -K -`). See README.md, "Fleet".
#
# Input: a Node as a real kubelet published it (kvlog-node-2); its status.images (the
# 50 largest of fakecri's 56 images), declaredFeatures and kubeletVersion are reused.
# Args: $count, $prefix (kvlog-fleet-), $fleetlabel (kvlog.dev/e2e-fleet), $net (10.222.0),
#       $first, $last (host numbers of the addresses, reused round robin), $now (RFC 3339),
#       $ttl (node.alpha.kubernetes.io/ttl the TTL controller will want for this many nodes),
#       $conditions (unknown | none), $api, $cacert, $cert, $key.
#
# Each node looks like a worker of a production cluster whose kubelet is gone: labels of
# a cloud worker (hostname, arch/os, zone/region, instance type), CNI and CSI annotations,
# providerID, addresses (InternalIP in $net.$first-$last, Hostname), kubelet port 10250,
# nodeInfo, capacity/allocatable by instance type, 50 images. With $conditions ==
# "unknown" it also carries what the node lifecycle controller leaves on such a node
# (the four conditions Unknown, NodeStatusUnknown, and the unreachable:NoSchedule
# taint), so the controller has nothing to write; "none": no conditions, no taints
# (the controller marks all of them after its one-minute startup grace).
def pad5: tostring | ("0000" + .)[-5:];
def hex($n; $w): reduce range($w) as $k ({n: $n, s: ""};
  .s = ("0123456789abcdef"[(.n % 16):(.n % 16 + 1)] + .s) | .n = ((.n / 16) | floor)) | .s;
# 8 hex digits, fixed per ($i, $m): ids that look random and are the same every run.
def h32($i; $m): hex((($i * $m + 40503) % 4294967296); 8);
. as $t
| [ {type: "m6i.2xlarge", cpu: "8",  gib: 32}, {type: "m6i.4xlarge", cpu: "16", gib: 64},
    {type: "c6i.4xlarge", cpu: "16", gib: 32}, {type: "r6i.2xlarge", cpu: "8",  gib: 64} ] as $types
| ["a", "b", "c"] as $zones
| ($last - $first + 1) as $span
| range(1; $count + 1) as $i
| ($prefix + ($i | pad5)) as $name
| "\($net).\($first + (($i - 1) % $span))" as $ip
| $types[$i % ($types | length)] as $it
| "eu-west-1\($zones[$i % 3])" as $zone
| (h32($i; 2654435761) + h32($i; 2246822519) + h32($i; 3266489917) + h32($i; 668265263)) as $mid
| (h32($i; 374761393) + h32($i; 1103515245)) as $inst
| ($it.gib * 1012775) as $memKi   # what the kernel leaves of the instance's memory
| {
    apiVersion: "v1", kind: "Node",
    metadata: {
      name: $name,
      labels: {
        "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": $name, "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": $it.type,
        "topology.kubernetes.io/region": "eu-west-1", "topology.kubernetes.io/zone": $zone,
        ($fleetlabel): "true"
      },
      annotations: {
        "csi.volume.kubernetes.io/nodeid": ({"nfs.csi.k8s.io": $name} | tojson),
        "node.alpha.kubernetes.io/ttl": ($ttl | tostring),
        "projectcalico.org/IPv4Address": "\($ip)/24",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true"
      }
    },
    spec: ({providerID: "aws:///\($zone)/i-0\($inst[1:])"}
      + if $conditions == "unknown" then
          {taints: [{key: "node.kubernetes.io/unreachable", effect: "NoSchedule", timeAdded: $now}]}
        else {} end),
    status: ({
      capacity: {cpu: $it.cpu, "ephemeral-storage": "101430960Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                 memory: "\($memKi)Ki", pods: "110"},
      allocatable: {cpu: $it.cpu, "ephemeral-storage": "93478772582", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                    memory: "\($memKi - 1016832)Ki", pods: "110"},
      conditions: (if $conditions == "unknown" then
          ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
          | map({type: ., status: "Unknown", lastHeartbeatTime: $now, lastTransitionTime: $now,
                 reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status."})
        else [] end),
      addresses: [{type: "InternalIP", address: $ip}, {type: "Hostname", address: $name}],
      daemonEndpoints: {kubeletEndpoint: {Port: 10250}},
      nodeInfo: {
        machineID: $mid,
        systemUUID: "ec2\($mid[3:8])-\($mid[8:12])-\($mid[12:16])-\($mid[16:20])-\($mid[20:32])",
        bootID: "\($mid[0:8])-\($mid[12:16])-4\($mid[17:20])-a\($mid[21:24])-\($mid[4:16])",
        kernelVersion: "6.8.0-1036-aws", osImage: "Ubuntu 24.04.3 LTS",
        containerRuntimeVersion: "containerd://2.1.4",
        kubeletVersion: $t.status.nodeInfo.kubeletVersion, kubeProxyVersion: "",
        operatingSystem: "linux", architecture: "amd64"
      },
      images: $t.status.images
    } + if $t.status.declaredFeatures then {declaredFeatures: $t.status.declaredFeatures} else {} end)
  }
# The curl config: `next` between operations, every option repeated (next resets them).
| (if $i > 1 then "next" else empty end),
  "url = \("\($api)/api/v1/nodes?fieldManager=kvlog-e2e-fleet" | tojson)",
  "cacert = \($cacert | tojson)", "cert = \($cert | tojson)", "key = \($key | tojson)",
  "header = \"Content-Type: application/json\"",
  "header = \"Accept: application/vnd.kubernetes.protobuf\"",
  "output = \"/dev/null\"", "silent", "show-error",
  "write-out = \"%{response_code} \($name)\\n\"",
  "data-binary = \(tojson | tojson)"
