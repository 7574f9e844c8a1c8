module.exports = { displayName: 'example-csv-ppg', preset: '../../jest.preset.cjs' };
