// The console's browser tests: Debian's Chromium (no browser of Playwright's own), one worker,
// against the server scripts/console-test.sh starts.
const { defineConfig } = require("@playwright/test");

module.exports = defineConfig({
  testDir: "tests",
  workers: 1,
  timeout: 60_000,
  expect: { timeout: 5_000 },
  reporter: [["list"]],
  use: {
    baseURL: process.env.CONSOLE_BASE_URL,
    headless: true,
    launchOptions: {
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      args: ["--no-sandbox"],
    },
    trace: "off",
  },
});
