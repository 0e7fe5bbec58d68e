// Jest 29 cannot require ES modules. The few dependencies that ship only ESM (jose) are transpiled to CommonJS on
// the way in, with the TypeScript compiler the project already has. Node itself loads them natively.
const ts = require('typescript');

module.exports = {
  process(source, filename) {
    const { outputText } = ts.transpileModule(source, {
      fileName: filename,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, allowJs: true, esModuleInterop: true },
    });
    return { code: outputText };
  },
};
