// patchloop's ESLint config for one generated JavaScript file (core/analyzers/eslint.py).
//
// The plug-ins are not beside this file: they live in the project-local npm folder that
// `make setup` fills (tools/eslint/node_modules). They are loaded relative to the ESLint that
// runs this config (process.argv[1] is its bin script inside that folder), so the config works
// from wherever the package's assets are installed.
import { createRequire } from "node:module";

const require = createRequire(process.argv[1]);
const js = require("@eslint/js");
const globals = require("globals");
const security = require("eslint-plugin-security");
const noUnsanitized = require("eslint-plugin-no-unsanitized");

export default [
  {
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    languageOptions: {
      ecmaVersion: "latest",
      // "script": top-level functions and variables are globals, which a caller uses, so an answer
      // that defines a function and never calls it is not "unused". Modules: see eslint.py.
      sourceType: "script",
      // A generated answer may be a Node module or browser code: both sets of globals, so that
      // `document` or `require` alone is never a finding.
      globals: { ...globals.node, ...globals.browser },
    },
    plugins: { security, "no-unsanitized": noUnsanitized },
    rules: {
      // The defects role: the recommended correctness rules (undefined names, unreachable code,
      // constant conditions, duplicate keys, NaN compares, typeof typos ...).
      ...js.configs.recommended.rules,
      "no-unused-vars": ["warn", { vars: "local", args: "none", caughtErrors: "none" }],
      // Browser globals such as `crypto` or `name` are declared again by Node code that requires a
      // module of that name; only a second declaration in the code itself is a defect.
      "no-redeclare": ["error", { builtinGlobals: false }],
      "no-eval": "error",
      "no-implied-eval": "error",
      "no-new-func": "error",
      "no-self-compare": "error",
      "no-unreachable-loop": "error",
      "no-use-before-define": ["error", { functions: false, classes: true, variables: true }],
      "array-callback-return": "error",
      "no-constructor-return": "error",
      // The security role.
      ...security.configs.recommended.rules,
      // Fires on every obj[key]; on idiomatic code almost all of it is noise.
      "security/detect-object-injection": "off",
      "no-unsanitized/method": "error",
      "no-unsanitized/property": "error",
    },
  },
  {
    files: ["**/*.mjs"],
    languageOptions: { sourceType: "module" },
  },
];
