// ajv-cli plugin (-c): the annotation keywords editors read, declared so that ajv's strict mode
// accepts them and still refuses any other unknown keyword. VS Code and yaml-language-server read
// markdownDescription in hovers and completions; it has no effect on validation.
module.exports = function addEditorAnnotations(ajv) {
  ajv.addVocabulary(["markdownDescription"]);
  return ajv;
};
