// ajv-cli plugin (-c): the annotation keywords editors read, declared so that ajv's strict mode
// accepts them and still refuses any other unknown keyword. VS Code and yaml-language-server show
// markdownDescription in hovers and completions, and errorMessage (a string) in place of the message
// of a failed type, enum or additionalProperties in the same schema; neither changes what is valid.
module.exports = function addEditorAnnotations(ajv) {
  ajv.addVocabulary(["markdownDescription", "errorMessage"]);
  return ajv;
};
