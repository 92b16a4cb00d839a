/* rrctl subcommands for learned classifiers: train, classify, eval-classifier. Each takes
 * argv with argv[0] = the subcommand name and returns the process exit code:
 * 0 success, 1 bad data or model (message on stderr), 2 usage error, 3 I/O error. */
#ifndef RRCTL_CMD_TRAIN_H
#define RRCTL_CMD_TRAIN_H

int rrctl_cmd_train(int argc, char **argv);
int rrctl_cmd_classify(int argc, char **argv);
int rrctl_cmd_eval_classifier(int argc, char **argv);

#endif
