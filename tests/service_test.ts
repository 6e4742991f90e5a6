/**
 * Issue 6: `service install` writes a hardened systemd unit that `systemd-analyze verify` accepts;
 * `service uninstall`; shell completions generated from the command reference.
 */
import assert from "node:assert/strict";
import { cli, cliOk, component, initNode, tempHome } from "./helpers.ts";

const ANALYZE = component("systemd-analyze", "the service unit test (systemd-analyze verify)");

Deno.test({
  name:
    "service install: hardened unit for this home, accepted by systemd-analyze verify; uninstall",
  ignore: ANALYZE.ignore,
  async fn() {
    const home = await tempHome();
    try {
      const noId = await cli(home, [
        "service",
        "install",
        "--unit-dir",
        `${home}/u`,
        "--no-enable",
      ]);
      assert.equal(noId.code, 1);
      assert.match(noId.stderr, /node init/);
      await initNode(home, "rig-07", "worker");
      await cliOk(home, [
        "service",
        "install",
        "--unit-dir",
        `${home}/units`,
        "--no-enable",
        "--",
        "--listen",
        ":9091",
      ]);
      const file = `${home}/units/miner-cli.service`;
      const unit = await Deno.readTextFile(file);
      for (
        const line of [
          "NoNewPrivileges=yes",
          "ProtectSystem=strict",
          "Restart=on-failure",
          "KillMode=control-group",
          `ReadWritePaths=${home}/config ${home}/data`,
          "WantedBy=default.target",
        ]
      ) assert.ok(unit.includes(`\n${line}\n`), `missing ${line}:\n${unit}`);
      assert.match(
        unit,
        new RegExp(`^ExecStart=.* --home ${home} node serve --listen :9091$`, "m"),
      );
      // Discovery flags widen the net permission to exactly the discovery port and targets; a
      // malformed serve flag is refused before any unit is written.
      const disc = (await cliOk(home, [
        ...["service", "install", "--print", "--", "--discover", "--discover-port", "12000"],
        ...["--discover-broadcast", "10.1.2.255"],
      ])).stdout;
      assert.match(disc, / --unstable-net /);
      assert.match(
        disc,
        /--allow-net=0\.0\.0\.0:9091,127\.0\.0\.1,0\.0\.0\.0:12000,10\.1\.2\.255:12000 /,
      );
      const bad = await cli(home, ["service", "install", "--print", "--", "--discover-prot", "1"]);
      assert.notEqual(bad.code, 0);
      assert.match(
        bad.stderr,
        /node serve has no option --discover-prot; did you mean --discover-port\?/,
      );
      // From a source checkout the unit runs deno with the worker's permission set for this home.
      const exec = unit.split("\n").find((l) => l.startsWith("ExecStart="))!;
      assert.ok(exec.includes(` --allow-run=${home}/data/miners/xmrig/current/xmrig,`), exec);
      assert.ok(
        exec.includes(
          ` --allow-net=0.0.0.0:9091,127.0.0.1,0.0.0.0:10000,255.255.255.255:10000 `,
        ),
        exec,
      );
      assert.ok(!/ --allow-(read|write|net|run) /.test(exec), exec);
      const verify = await new Deno.Command(ANALYZE.path!, {
        args: ["verify", file],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const msg = new TextDecoder().decode(verify.stderr);
      assert.equal(verify.code, 0, msg);
      assert.doesNotMatch(msg, /miner-cli\.service/, `warnings about the unit:\n${msg}`);

      const printed = await cliOk(home, [
        "service",
        "install",
        "--system",
        "--run-as",
        "miner",
        "--print",
      ]);
      assert.match(printed.stdout, /^User=miner$/m);
      assert.match(printed.stdout, /^WantedBy=multi-user\.target$/m);

      await cliOk(home, ["service", "uninstall", "--unit-dir", `${home}/units`, "--no-enable"]);
      await assert.rejects(Deno.stat(file), Deno.errors.NotFound);
      const again = await cli(home, [
        "service",
        "uninstall",
        "--unit-dir",
        `${home}/units`,
        "--no-enable",
      ]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /no unit at/);
      const both = await cli(home, ["service", "install", "--user", "--system", "--print"]);
      assert.equal(both.code, 1);
    } finally {
      await Deno.remove(home, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("completions: bash completes commands, subcommands and flags; zsh and fish scripts", async () => {
  const home = await tempHome();
  try {
    const script = `${home}/c.bash`;
    await Deno.writeTextFile(script, (await cliOk(home, ["completions", "bash"])).stdout);
    const complete = async (line: string) => {
      const words = line.split(" ");
      const r = await new Deno.Command("bash", {
        args: [
          "-c",
          `source ${script}; COMP_WORDS=(${words.map((w) => `"${w}"`).join(" ")}); COMP_CWORD=${
            words.length - 1
          }; _miner_cli; printf '%s\\n' "\${COMPREPLY[@]}"`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
      return new TextDecoder().decode(r.stdout).trim().split("\n").filter(Boolean);
    };
    assert.deepEqual(await complete("miner-cli re"), ["remote", "resume"]);
    assert.deepEqual((await complete("miner-cli remote ")).sort(), [
      "deploy",
      "logs",
      "start",
      "status",
      "stop",
    ]);
    const flags = await complete("miner-cli --home /x remote status --");
    assert.ok(flags.includes("--json") && flags.includes("--timeout"), flags.join(" "));
    assert.ok((await complete("miner-cli service install --")).includes("--system"));
    assert.match((await cliOk(home, ["completions", "zsh"])).stdout, /^#compdef miner-cli/);
    const fish = (await cliOk(home, ["completions", "fish"])).stdout;
    assert.match(
      fish,
      /__fish_seen_subcommand_from remote; and __fish_seen_subcommand_from status" -l timeout/,
    );
    const bad = await cli(home, ["completions", "powershell"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /bash\|zsh\|fish/);
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});
